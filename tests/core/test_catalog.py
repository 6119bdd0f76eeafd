"""The shipped task catalog (`tasks/`): every spec validates and matches the real data sets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from studio.core.tasks.formats import METRICS, REQUIRED_FIELDS
from studio.core.tasks.spec import TaskSpec, default_tasks_dir

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"

# Muppet-paper datasets absent from (or only partly in) ../shared/data: each needs a hub source.
PAPER_HUB = (
    "qqp",
    "qnli",
    "mnli",
    "stsb",
    "squad",
    "squad_v2",
    "race",
    "swag",
    "hellaswag",
    "cosmos_qa",
    "winogrande",
    "xsum",
    "cnn_dailymail",
    "gigaword",
)


def _data_folders() -> list[Path]:
    if not DATA_DIR.is_dir():
        return []
    return sorted(p for p in DATA_DIR.iterdir() if (p / "SOURCE.md").is_file())


def _task_type(folder: Path) -> str:
    text = (folder / "SOURCE.md").read_text("utf-8")
    match = re.search(r"^Task type: \*\*(\w+)\*\*", text, re.MULTILINE)
    assert match, f"{folder}/SOURCE.md names no task type"
    return match.group(1)


def _first_record(folder: Path) -> dict:
    with (folder / "train.jsonl").open(encoding="utf-8") as f:
        return json.loads(f.readline())


def test_every_spec_validates(catalog: dict[str, TaskSpec]) -> None:
    # load_catalog raised on any invalid file; check it read every YAML file.
    assert len(catalog) == len(list(default_tasks_dir().glob("*.yaml")))
    for name, spec in catalog.items():
        assert spec.metric in METRICS[spec.format], name
        assert spec.local or spec.hub or spec.synthetic, name
        assert spec.description, f"{name}: no description"


def test_hub_columns_map_to_record_fields(catalog: dict[str, TaskSpec]) -> None:
    for name, spec in catalog.items():
        if spec.hub is None:
            continue
        allowed = set(REQUIRED_FIELDS[spec.format]) | {"text_pair"}
        targets = {field for _, field in spec.hub.columns}
        assert targets <= allowed, f"{name}: unknown record field(s) {targets - allowed}"
        required = set(REQUIRED_FIELDS[spec.format])
        if spec.format == "multiple_choice":
            required -= {"context", "question"}  # these may be empty (docs/DESIGN.md §3)
        assert required <= targets, f"{name}: hub columns miss {required - targets}"
        if spec.format == "pair_classification":
            assert "text_pair" in targets, name
        if spec.labels and spec.hub.label_map:
            assert {i for _, i in spec.hub.label_map} <= set(range(len(spec.labels))), name


def test_paper_datasets_have_hub_sources(catalog: dict[str, TaskSpec]) -> None:
    missing = [n for n in PAPER_HUB if n not in catalog or catalog[n].hub is None]
    assert not missing, f"no hub source for {missing}"
    assert all(catalog[n].paper for n in PAPER_HUB)


def test_every_data_folder_has_a_matching_spec(catalog: dict[str, TaskSpec]) -> None:
    folders = _data_folders()
    if not folders:
        pytest.skip(f"{DATA_DIR} is missing")
    for folder in folders:
        name = folder.name
        assert name in catalog, f"no spec for data folder {name}"
        spec = catalog[name]
        assert spec.local == name
        assert spec.format == _task_type(folder), name
        labels_file = folder / "labels.json"
        if labels_file.is_file():
            labels = json.loads(labels_file.read_text("utf-8"))
            assert list(spec.labels) == labels, name
        if spec.format == "multiple_choice":
            assert spec.choices == len(_first_record(folder)["choices"]), name


def test_local_sources_name_existing_folders(catalog: dict[str, TaskSpec]) -> None:
    if not DATA_DIR.is_dir():
        pytest.skip(f"{DATA_DIR} is missing")
    for name, spec in catalog.items():
        if spec.local is not None:
            assert (DATA_DIR / spec.local / "train.jsonl").is_file(), name
