"""Task specs: parsing, errors that name the file, and reading a catalog folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from studio.core.errors import TaskSpecError
from studio.core.tasks import HubSource, load_catalog, load_task, parse_task

PATH = "/catalog/tasks/demo.yaml"


def _valid(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "demo",
        "title": "Demo",
        "family": "classification",
        "format": "pair_classification",
        "labels": ["entailment", "not_entailment"],
        "metric": "accuracy",
        "source": {"local": "demo"},
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _error(data: Any) -> str:
    with pytest.raises(TaskSpecError) as info:
        parse_task(data, PATH)
    msg = str(info.value)
    assert PATH in msg
    return msg


def test_valid_task_parses() -> None:
    spec = parse_task(_valid(), PATH)
    assert spec.name == "demo"
    assert spec.labels == ("entailment", "not_entailment")
    assert spec.num_outcomes == 2
    assert spec.local == "demo" and spec.hub is None and not spec.is_synthetic
    assert spec.path == PATH


def test_defaults_title_and_metric() -> None:
    spec = parse_task(_valid(title=None, metric=None), PATH)
    assert spec.title == "demo"
    assert spec.metric == "accuracy"
    spec = parse_task(_valid(format="regression", labels=None, metric=None), PATH)
    assert spec.metric == "pearson"
    assert spec.num_outcomes is None


def test_unknown_key_is_named() -> None:
    msg = _error(_valid(lables=["a", "b"]))
    assert "lables" in msg
    assert "labels" in msg  # the allowed keys are listed


def test_unknown_source_key_is_named() -> None:
    assert "ftp" in _error(_valid(source={"local": "demo", "ftp": "x"}))


@pytest.mark.parametrize("key", ["name", "family", "format", "source"])
def test_missing_key_is_named(key: str) -> None:
    data = _valid()
    del data[key]
    assert key in _error(data)


def test_bad_family() -> None:
    msg = _error(_valid(family="reasoning"))
    assert "reasoning" in msg and "commonsense" in msg


def test_bad_format() -> None:
    msg = _error(_valid(format="ranking"))
    assert "ranking" in msg and "extractive_qa" in msg


def test_bad_metric_for_format() -> None:
    msg = _error(_valid(metric="rouge_l"))
    assert "rouge_l" in msg and "macro_f1" in msg


def test_bad_name() -> None:
    assert "name" in _error(_valid(name="my-task"))
    assert "name" in _error(_valid(name=5))


@pytest.mark.parametrize("labels", [None, [], ["only"]])
def test_classification_needs_labels(labels: Any) -> None:
    data = _valid(format="classification")
    data.pop("labels")
    if labels is not None:
        data["labels"] = labels
    assert "labels" in _error(data)


@pytest.mark.parametrize("labels", [5, "entailment not_entailment"])
def test_labels_must_be_a_list(labels: Any) -> None:
    # A plain string must not become one label per character; an int must not crash.
    assert "labels" in _error(_valid(labels=labels))


@pytest.mark.parametrize("choices", [None, 1, "four", 2.5])
def test_multiple_choice_needs_choices(choices: Any) -> None:
    data = _valid(family="commonsense", format="multiple_choice", labels=None, choices=choices)
    assert "choices" in _error(data)


def test_multiple_choice_spec() -> None:
    data = _valid(family="commonsense", format="multiple_choice", labels=None, choices=5)
    spec = parse_task(data, PATH)
    assert spec.choices == 5 and spec.num_outcomes == 5


def test_empty_source() -> None:
    assert "source" in _error(_valid(source={}))
    assert "source" in _error(_valid(source="demo"))


def test_not_a_mapping() -> None:
    _error(["name", "demo"])


def test_hub_source_is_parsed() -> None:
    hub = {
        "path": "nyu-mll/glue",
        "name": "rte",
        "splits": {"train": "train", "validation": "test"},
        "columns": {"sentence1": "text", "sentence2": "text_pair", "label": "label"},
        "label_map": {"entailment": 0, "not_entailment": 1},
    }
    spec = parse_task(_valid(source={"hub": hub}), PATH)
    assert isinstance(spec.hub, HubSource)
    assert spec.hub.path == "nyu-mll/glue" and spec.hub.name == "rte"
    assert spec.hub.split("validation") == "test"
    assert dict(spec.hub.columns)["sentence2"] == "text_pair"
    assert dict(spec.hub.label_map) == {"entailment": 0, "not_entailment": 1}
    assert spec.local is None


@pytest.mark.parametrize(
    "hub",
    [
        {"name": "rte"},
        {"path": "glue", "splits": {"train": "train"}},
        {"path": "glue", "columns": ["a", "b"]},
        {"path": "glue", "revision": 3},
        {"path": "glue", "reivsion": "main"},
    ],
)
def test_bad_hub_source(hub: dict[str, Any]) -> None:
    assert "source.hub" in _error(_valid(source={"hub": hub}))


def test_non_integer_label_map_value_names_the_file() -> None:
    hub = {"path": "glue", "columns": {"label": "label"}, "label_map": {"yes": "entailment"}}
    assert "label_map" in _error(_valid(source={"hub": hub}))


def _write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_name_must_match_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "other", _valid())
    with pytest.raises(TaskSpecError) as info:
        load_task(path)
    assert str(path) in str(info.value)
    assert "other" in str(info.value)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text("name: demo\nlabels: [a, b\n", encoding="utf-8")
    with pytest.raises(TaskSpecError, match="not valid YAML") as info:
        load_task(path)
    assert str(path) in str(info.value)


def test_non_utf8_task_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_bytes(b"name: d\xffmo\n")
    with pytest.raises(TaskSpecError) as info:
        load_task(path)
    assert str(path) in str(info.value)


def test_load_catalog_reads_a_folder(tmp_path: Path) -> None:
    _write(tmp_path, "zeta", _valid(name="zeta", source={"local": "zeta"}))
    _write(tmp_path, "alpha", _valid(name="alpha", format="regression", labels=None, metric=None))
    (tmp_path / "notes.txt").write_text("not a task", encoding="utf-8")
    catalog = load_catalog(tmp_path)
    assert list(catalog) == ["alpha", "zeta"]
    assert catalog["alpha"].format == "regression"
    assert catalog["zeta"].path == str(tmp_path / "zeta.yaml")


def test_load_catalog_bad_file_is_named(tmp_path: Path) -> None:
    _write(tmp_path, "good", _valid(name="good"))
    bad = _write(tmp_path, "bad", _valid(name="bad", family="nope"))
    with pytest.raises(TaskSpecError) as info:
        load_catalog(tmp_path)
    assert str(bad) in str(info.value)


def test_load_catalog_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(TaskSpecError, match="does not exist"):
        load_catalog(tmp_path / "nowhere")
