"""Hub datasets: loaded through `datasets` (or from a local copy of the repository) and mapped
to the record format with batched `map`/`filter`, never a Python list of every row."""

from __future__ import annotations

import logging
from typing import Any

import datasets

from studio.core import paths
from studio.core.errors import DataError, StudioError
from studio.core.tasks.availability import hub_cached, hub_local_copy
from studio.core.tasks.formats import REQUIRED_FIELDS
from studio.core.tasks.records import is_unlabelled, map_hub_row, record_problem
from studio.core.tasks.spec import HubSource, TaskSpec
from studio.train.data.tokenized import WRITER_BATCH

log = logging.getLogger(__name__)

SCRIPT_HELP = (
    "it is a loading-script repository, which datasets {version} refuses to run. Load the "
    "hub's parquet export instead (`revision: refs/convert/parquet` with `data_dir: <config>`), "
    "or a script-free copy with the same columns"
)


def _problem(exc: Exception) -> str:
    """The useful part of a `datasets` or hub error, without its traceback."""
    text = str(exc).strip()
    if "Dataset scripts are no longer supported" in text:
        return SCRIPT_HELP.format(version=datasets.__version__)
    if isinstance(exc, ConnectionError):
        return (
            "the hub is not reachable and the dataset is not in the Hugging Face cache "
            f"({paths.hf_datasets_cache()})"
        )
    first = text.splitlines()[0] if text else type(exc).__name__
    if "Config name is missing" in text or "not found. Available" in text:
        first = " ".join(line.strip() for line in text.splitlines()[:2])
        return f"{first} (pick one as the config)"
    return first


def load_hub(hub: HubSource, task: str | None, split: str | None = None) -> Any:
    """A split of a hub dataset (or, with no split, all of them as a DatasetDict); every
    failure is a StudioError naming the task (if any) and the dataset."""
    prefix = f"task '{task}': " if task else ""
    copy = hub_local_copy(hub)
    if hub.unsupported and copy is None and not hub_cached(hub):
        raise StudioError(f"{prefix}the hub dataset {hub.label}: {hub.unsupported}")
    try:
        return datasets.load_dataset(
            str(copy) if copy is not None else hub.path,
            hub.name,
            split=split,
            data_dir=hub.data_dir,
            revision=None if copy is not None else hub.revision,
            cache_dir=str(paths.hf_datasets_cache()),
        )
    except Exception as exc:  # noqa: BLE001 - datasets raises many kinds; all reach the user
        where = f"{hub.label} (local copy {copy})" if copy is not None else hub.label
        what = f"split '{split}' of the hub dataset" if split else "the hub dataset"
        raise StudioError(f"{prefix}cannot load {what} {where}: {_problem(exc)}") from None


def _check_columns(raw: datasets.Dataset, spec: TaskSpec, split: str) -> None:
    """Missing columns and string labels without a label_map, before any row is mapped."""
    assert spec.hub is not None
    hub = spec.hub
    missing = [src for src, _ in hub.columns if src not in raw.column_names]
    if missing:
        raise StudioError(
            f"task '{spec.name}': the hub dataset {hub.label} split '{split}' has no column(s) "
            f"{missing}; its columns are {raw.column_names}"
        )
    fields = {dst for _, dst in hub.columns}
    needed = [f for f in REQUIRED_FIELDS[spec.format] if f not in fields]
    needed = [f for f in needed if f not in ("context", "question")]  # may be empty in MC
    if needed:
        raise StudioError(
            f"task '{spec.name}': source.hub.columns maps no column to {needed}, which a "
            f"{spec.format} record needs"
        )
    for src, dst in hub.columns:
        feature = raw.features.get(src)
        text = isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")
        if dst == "label" and text and not hub.label_map and spec.format != "regression":
            sample = raw.unique(src)[:5]
            raise StudioError(
                f"task '{spec.name}': the label column '{src}' of {hub.label} holds strings "
                f"(e.g. {sample}); add a `label_map` from each value to a label index"
            )


def hub_records(spec: TaskSpec, split: str) -> tuple[datasets.Dataset, str]:
    """A split in the record format, and a key that changes when the hub data does.

    Rows without a gold label (label -1) are dropped; a row that cannot be mapped is a
    DataError naming the dataset, split and row index.
    """
    assert spec.hub is not None
    hub = spec.hub
    hub_split = hub.split(split)
    raw = load_hub(hub, spec.name, hub_split)
    _check_columns(raw, spec, hub_split)
    labelled = raw.filter(
        lambda batch: [not is_unlabelled(row, spec) for row in batch_rows(batch)],
        batched=True,
        batch_size=WRITER_BATCH,
        writer_batch_size=WRITER_BATCH,
        desc=f"{spec.name}/{split}: dropping rows without a gold label",
    )
    if len(labelled) < len(raw):
        log.info(
            "task %s: skipped %d hub rows without a gold label", spec.name, len(raw) - len(labelled)
        )
    where = f"hub {hub.label} split {hub_split}"
    records = labelled.map(
        lambda batch, indices: _map_batch(batch, indices, spec, where),
        batched=True,
        with_indices=True,
        remove_columns=labelled.column_names,
        batch_size=WRITER_BATCH,
        writer_batch_size=WRITER_BATCH,
        desc=f"{spec.name}/{split}: mapping columns",
    )
    return records, f"hub:{hub}:{records._fingerprint}"


def batch_rows(batch: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """A batch of columns (what `datasets` hands a batched function) as rows."""
    keys = list(batch)
    return [dict(zip(keys, values, strict=True)) for values in zip(*batch.values(), strict=True)]


def _map_batch(
    batch: dict[str, list[Any]], indices: list[int], spec: TaskSpec, where: str
) -> dict[str, list[Any]]:
    records = []
    for index, row in zip(indices, batch_rows(batch), strict=True):
        try:
            rec = map_hub_row(row, spec)
        except KeyError as exc:
            where_row = f"{where}, row {index}"
            raise DataError(where_row, None, f"task '{spec.name}': {exc.args[0]}") from None
        problem = record_problem(rec, spec)
        if problem:
            raise DataError(f"{where}, row {index}", None, f"task '{spec.name}': {problem}")
        records.append(rec)
    keys = sorted({key for rec in records for key in rec})
    return {key: [rec.get(key) for rec in records] for key in keys}
