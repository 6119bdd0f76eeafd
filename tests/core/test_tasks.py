"""Task specs: parsing, errors that name the file, and reading a catalog folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from studio.core.errors import TaskSpecError
from studio.core.tasks.spec import (
    HubSource,
    load_catalog,
    load_task,
    load_user_tasks,
    name_problem,
    parse_task,
)

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


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"paper": "no"}, "paper"),
        ({"paper": 1}, "paper"),
        ({"title": ["a", "b"]}, "title"),
        ({"description": {"a": 1}}, "description"),
        ({"labels": [["a"], "b"]}, "labels"),
        ({"labels": ["a", None]}, "labels"),
        ({"labels": ["a", "a"]}, "labels"),
        ({"family": ["classification"]}, "family"),
        ({"format": {"x": 1}}, "format"),
        ({"metric": ["accuracy"]}, "metric"),
        ({"added": ["x"]}, "added"),
        ({"source": {"local": ["a", "b"]}}, "source.local"),
        ({"source": {"local": ""}}, "source.local"),
        ({"source": {"synthetic": {"kind": "x"}}}, "source.synthetic"),
        ({"source": {"folder": 5}}, "source.folder"),
        ({"source": {"folder": "a\0b"}}, "source.folder"),
        (
            {"source": {"hub": {"path": "glue", "splits": {"train": "t", "validation": [1]}}}},
            "splits",
        ),
        ({"source": {"hub": {"path": "glue", "columns": {"a": {"b": 1}}}}}, "columns"),
        ({"source": {"hub": {"path": "g", "label_map": {"yes": True}}}}, "label_map"),
        ({1: "x"}, "unknown key"),
    ],
)
def test_every_value_type_is_checked(changes: dict[Any, Any], key: str) -> None:
    assert key in _error({**_valid(), **changes})


@pytest.mark.parametrize("choices", [True, [4], {"n": 4}])
def test_choices_must_be_a_whole_number_not_true(choices: Any) -> None:
    data = _valid(family="commonsense", format="multiple_choice", labels=None, choices=choices)
    assert "choices" in _error(data)


def test_paper_is_a_real_boolean_and_scalar_labels_are_names() -> None:
    assert parse_task(_valid(paper=False), PATH).paper is False
    assert parse_task(_valid(paper=True), PATH).paper is True
    assert parse_task(_valid(labels=[0, 1.5]), PATH).labels == ("0", "1.5")


def test_a_long_name_is_refused_with_a_short_message() -> None:
    msg = _error(_valid(name="a" * 5000))
    assert "5,000 characters" in msg and "64" in msg and len(msg) < 300
    assert parse_task(_valid(name="a" * 64), PATH).name == "a" * 64
    assert "letters" in _error(_valid(name="café"))


def test_one_name_rule_for_specs_and_imports() -> None:
    from studio.core.errors import StudioError
    from studio.core.importing.plan import check_name

    for name in ("a" * 65, "café", "my-task", ""):
        assert name_problem(name) is not None
        with pytest.raises(StudioError):
            check_name(name)
    assert name_problem("my_task_2") is None


@pytest.mark.parametrize(
    "text",
    [
        'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nname: demo\n',
        "base: &base {family: classification}\nname: demo\n",
        "<<: *nothing\n",
    ],
)
def test_anchors_and_aliases_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaskSpecError, match="not valid YAML") as info:
        load_task(path)
    assert str(path) in str(info.value)


def test_billion_laughs_is_refused_before_it_expands(tmp_path: Path) -> None:
    rows = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = tmp_path / "demo.yaml"
    path.write_text("\n".join(rows) + "\nname: demo\n", encoding="utf-8")
    assert path.stat().st_size < 1000
    with pytest.raises(TaskSpecError, match="aliases"):
        load_task(path)


def test_large_deep_and_non_regular_specs_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("name: big\n" + "# padding\n" * 10_000, encoding="utf-8")
    with pytest.raises(TaskSpecError, match="larger than 64 KiB") as info:
        load_task(big)
    assert str(big) in str(info.value)
    deep = tmp_path / "deep.yaml"
    deep.write_text("[" * 60_000, encoding="utf-8")
    with pytest.raises(TaskSpecError, match="deep.yaml: not valid YAML"):
        load_task(deep)
    endless = tmp_path / "endless.yaml"
    endless.symlink_to("/dev/zero")
    with pytest.raises(TaskSpecError, match="endless.yaml: not a regular file"):
        load_task(endless)
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)  # no writer: reading it would wait for ever
    with pytest.raises(TaskSpecError, match="pipe.yaml: not a regular file"):
        load_task(pipe)
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(TaskSpecError, match="folder.yaml: not a regular file"):
        load_task(tmp_path / "folder.yaml")


def test_one_bad_user_file_of_any_kind_is_left_out_with_its_reason(tmp_path: Path) -> None:
    for name, data in {
        "lst": _valid(name="lst", source={"local": ["a", "b"]}),
        "syn": _valid(name="syn", source={"synthetic": {"a": 1}}),
        "pap": _valid(name="pap", paper="no"),
        "good": _valid(name="good"),
    }.items():
        _write(tmp_path, name, data)
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "laughs.yaml").write_text("a: &a [1]\nb: [*a, *a]\n", encoding="utf-8")
    specs, problems = load_user_tasks([tmp_path, tmp_path / "missing"], {})
    assert [s.name for s in specs] == ["good"]
    assert len(problems) == 5
    for name, reason in [
        ("lst", "source.local must be text, not a list"),
        ("syn", "source.synthetic must be text, not a mapping"),
        ("pap", "paper must be true or false"),
        ("zero", "not a regular file"),
        ("laughs", "aliases"),
    ]:
        assert any(p.startswith(f"{tmp_path / name}.yaml: ") and reason in p for p in problems)


def test_an_unexpected_error_in_one_user_file_is_a_problem_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "demo", _valid())
    import studio.core.tasks.spec as tasks

    def broken(data: Any, path: str, origin: str = "builtin") -> Any:
        raise ValueError("something no check foresaw")

    monkeypatch.setattr(tasks, "parse_task", broken)
    specs, problems = load_user_tasks([tmp_path], {})
    assert specs == [] and problems == [
        f"{tmp_path / 'demo.yaml'}: cannot be read as a task: ValueError: something no check "
        "foresaw"
    ]
