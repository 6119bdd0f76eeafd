"""The user's own data for a new task — files, a saved `datasets` folder or a hub dataset —
opened with `datasets` and summarised for the wizard's preview."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import pyarrow.compute as pc

from studio.core.errors import StudioError
from studio.core.importing.mapping import label_key
from studio.core.importing.plan import FILE_TYPES, SourceRef, SourceTable
from studio.core.journal import owner_gone
from studio.train.data.hub import load_hub

PREVIEW_ROWS = 20
MAX_COUNTED = 200  # columns with more distinct values get no value counts
COMPRESSION = (".gz", ".bz2", ".xz", ".zst", ".zip")
TEXT_CELL = 2000  # characters of a text cell the preview keeps
IMPORT_CACHE = ".import-"  # `.import-<pid>-...` in the cache: one import's copies of the data
# Only an empty cell is blank: `None`, `NA` or `n/a` can be real classes (pandas reads them
# as missing by default).
CSV_OPTIONS = {"keep_default_na": False, "na_values": [""]}


def file_type(path: Path) -> str:
    """csv | tsv | json | parquet | arrow, from the file name (a compression suffix is skipped)."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSION:
        suffixes.pop()
    kind = FILE_TYPES.get(suffixes[-1]) if suffixes else None
    if kind is None:
        raise StudioError(
            f"{path}: cannot tell the file type from its name; use .csv, .tsv, .json, .jsonl "
            "or .parquet"
        )
    return kind


def _cause(exc: BaseException) -> str:
    """The reason `datasets` hides under 'An error occurred while generating the dataset'."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    if name == "EmptyDataError":
        return "the file is empty"
    if "corresponds to no data" in text:  # a header and no rows
        return "the file has no rows"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    return text


def _load_file(path: Path, split: str, cache: Path) -> datasets.Dataset:
    if not path.is_file():
        raise StudioError(f"{path}: no such file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise StudioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.stat().st_size == 0:
        raise StudioError(f"{path}: the file is empty")
    kind = file_type(path)
    builder = {"tsv": "csv"}.get(kind, kind)
    options: dict[str, Any] = dict(CSV_OPTIONS) if builder == "csv" else {}
    if kind == "tsv":
        options["sep"] = "\t"
    try:
        table = datasets.load_dataset(
            builder,
            data_files={split: str(path)},
            split=split,
            cache_dir=str(cache),
            **options,
        )
    except Exception as exc:  # noqa: BLE001 - pandas, pyarrow and datasets each raise their own
        raise StudioError(f"{path}: cannot read it as {kind.upper()}: {_cause(exc)}") from None
    if len(table) == 0 or not table.column_names:
        raise StudioError(f"{path}: the file has no rows")
    return table


def _load_folder(folder: Path, cache: Path) -> dict[str, datasets.Dataset]:
    if not folder.is_dir():
        raise StudioError(f"{folder}: no such folder")
    try:
        if (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file():
            loaded = datasets.load_from_disk(str(folder))
        else:
            loaded = datasets.load_dataset(str(folder), cache_dir=str(cache))
    except Exception as exc:  # noqa: BLE001
        raise StudioError(f"{folder}: cannot read the folder: {_cause(exc)}") from None
    if isinstance(loaded, datasets.Dataset):
        return {"train": loaded}
    return dict(loaded)


@contextlib.contextmanager
def open_source(ref: SourceRef, cache: Path) -> Iterator[dict[str, datasets.Dataset]]:
    """Every split the source holds, by name (files: `train` and maybe `validation`), while
    the block runs. `datasets` reads files through a cache folder of this import only, removed
    when it ends, refused or not: the user's data is not copied into the cache for good."""
    datasets.disable_progress_bars()  # the caller reports progress in its own words
    folder = _import_cache(cache)
    try:
        yield _open(ref, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _import_cache(cache: Path) -> Path:
    """A new folder for one import's copies; those of imports a kill stopped are dropped."""
    cache.mkdir(parents=True, exist_ok=True)
    for stale in cache.glob(f"{IMPORT_CACHE}*"):
        if owner_gone(stale):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{IMPORT_CACHE}{os.getpid()}-", dir=cache))


def _open(ref: SourceRef, cache: Path) -> dict[str, datasets.Dataset]:
    if ref.kind == "files":
        tables = {"train": _load_file(Path(ref.path).expanduser(), "train", cache)}
        if ref.validation:
            tables["validation"] = _load_file(
                Path(ref.validation).expanduser(), "validation", cache
            )
        return tables
    if ref.kind == "folder":
        return _load_folder(Path(ref.path).expanduser(), cache)
    return dict(load_hub(ref.hub(), None))


def type_tag(feature: Any) -> str:
    """A column's type in the words of `SourceTable.types`."""
    if isinstance(feature, datasets.ClassLabel):
        return "class"
    if isinstance(feature, datasets.Value):
        dtype = feature.dtype
        if "string" in dtype:
            return "str"
        if dtype == "bool":
            return "bool"
        if dtype.startswith(("int", "uint")):
            return "int"
        if dtype.startswith("float") or dtype.startswith("double"):
            return "float"
        return "other"
    if isinstance(feature, (datasets.List, datasets.LargeList, datasets.Sequence)):
        inner = type_tag(feature.feature)
        return f"list[{inner}]" if inner in ("str", "int") else "list"
    if isinstance(feature, dict):
        return "struct"
    return "other"


def display_value(value: Any) -> Any:
    """A cell as JSON can carry it (long texts cut for the preview)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, str):
        return value if len(value) <= TEXT_CELL else value[:TEXT_CELL] + "…"
    if isinstance(value, (list, tuple)):
        return [display_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): display_value(v) for k, v in value.items()}
    return f"<{type(value).__name__}>"


def _counts(
    table: datasets.Dataset, types: dict[str, str]
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Value counts of the columns with few distinct values, and how many distinct values
    each other column has (a label column of 50,000 values is a text column)."""
    counts: dict[str, dict[str, int]] = {}
    distinct: dict[str, int] = {}
    for column, tag in types.items():
        if column not in table.column_names:
            continue
        data = table.data.column(column)
        if tag.startswith("list"):
            data, column = pc.list_value_length(data), f"#{column}"
        elif tag not in ("str", "int", "float", "bool", "class"):
            continue
        values = pc.value_counts(data)
        if len(values) > MAX_COUNTED:
            distinct[column] = len(values)
            continue
        found: dict[str, int] = {}
        for item in values.to_pylist():
            key = label_key(item["values"]) or ""
            found[key] = found.get(key, 0) + int(item["counts"])
        counts[column] = found
    return counts, distinct


def _whole(values: Any) -> bool:
    """Whether every non-blank number of a column is a whole number."""
    present = pc.drop_null(values)
    present = pc.filter(present, pc.invert(pc.is_nan(present)))
    return len(present) > 0 and bool(pc.all(pc.equal(pc.floor(present), present)).as_py())


def inspect(ref: SourceRef, cache: Path, rows: int = PREVIEW_ROWS) -> SourceTable:
    """Splits, column types, the first rows and value counts of a source."""
    with open_source(ref, cache) as tables:
        return _summary(ref, tables, rows)


def _summary(ref: SourceRef, tables: dict[str, datasets.Dataset], rows: int) -> SourceTable:
    if not tables:
        raise StudioError(f"{ref.describe()} holds no data")
    name = next((s for s in (ref.train_split, "train") if s in tables), next(iter(tables)))
    first = tables[name]
    types = {column: type_tag(feature) for column, feature in first.features.items()}
    for column, tag in types.items():
        if tag == "float" and _whole(first.data.column(column)):
            types[column] = "int"  # integers with blank cells, which CSV readers make floats
    names = {
        column: list(feature.names)
        for column, feature in first.features.items()
        if isinstance(feature, datasets.ClassLabel)
    }
    head = first.select(range(min(rows, len(first))))
    counted = {split: _counts(table, types) for split, table in tables.items()}
    return SourceTable(
        source=ref,
        splits={split: len(table) for split, table in tables.items()},
        types=types,
        rows=[{k: display_value(v) for k, v in row.items()} for row in head],
        class_names=names,
        counts={split: counts for split, (counts, _) in counted.items()},
        distinct={split: distinct for split, (_, distinct) in counted.items()},
    )
