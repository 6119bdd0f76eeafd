"""Adding a task from the user's data: every source kind, every format, every bad input."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studio.core import paths
from studio.core.errors import StudioError
from studio.core.importing.guessing import draft_plan
from studio.core.importing.plan import SourceRef, StageReport
from studio.core.tasks.records import record_problem
from studio.train.data.importer import stage
from studio.train.data.sources import inspect
from tests import hub_repos

PAIRS = "premise,hypothesis,gold\n" + "".join(
    f"Sentence number {i}.,A claim {i}.,{'entail' if i % 3 else 'contra'}\n" for i in range(30)
)


def _cache() -> Path:
    return paths.cache_dir()


def _lines(folder: str, split: str) -> list[dict]:
    text = (Path(folder) / f"{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _add(ref: SourceRef, name: str = "mine", **choices: object) -> StageReport:
    table = inspect(ref, _cache())
    plan = draft_plan(table, name, **choices)  # type: ignore[arg-type]
    report = stage(plan, _cache())
    spec = plan.spec(report.choices)
    for split in ("train", "validation"):
        assert all(record_problem(r, spec) is None for r in _lines(report.folder, split))
    return report


def test_csv_pairs_with_string_labels_carve_a_seeded_validation_set(tmp_path: Path) -> None:
    path = tmp_path / "nli.csv"
    path.write_text(PAIRS)
    table = inspect(SourceRef("files", str(path)), _cache())
    assert table.types == {"premise": "str", "hypothesis": "str", "gold": "str"}
    assert table.splits == {"train": 30} and len(table.rows) == 20
    assert table.value_counts("gold", ["train"]) == {"contra": 10, "entail": 20}
    plan = draft_plan(table, "nli", validation_fraction=0.2)
    assert plan.format == "pair_classification" and plan.label_values == ("contra", "entail")
    first = stage(plan, _cache())
    assert first.sizes == {"train": 24, "validation": 6} and first.bad_rows == 0
    assert first.label_counts["train"]["entail"] + first.label_counts["validation"]["entail"] == 20
    again = stage(plan, _cache())
    assert _lines(again.folder, "validation") == _lines(first.folder, "validation")
    other = stage(plan.replace(seed=7), _cache())
    assert _lines(other.folder, "validation") != _lines(first.folder, "validation")


def test_parquet_multiple_choice_with_choices_in_columns(tmp_path: Path) -> None:
    rows = {
        "question": [f"Question {i}?" for i in range(12)],
        "option_a": ["red"] * 12,
        "option_b": ["green"] * 12,
        "option_c": ["blue"] * 12,
        "answer": ["ABC"[i % 3] for i in range(12)],
    }
    path = tmp_path / "quiz.parquet"
    pq.write_table(pa.table(rows), path)
    report = _add(SourceRef("files", str(path)))
    assert report.choices == 3
    record = _lines(report.folder, "train")[0]
    assert record["choices"] == ["red", "green", "blue"] and record["context"] == ""
    assert record["question"].startswith("Question")


def test_jsonl_multiple_choice_with_a_list_column_and_answer_text(tmp_path: Path) -> None:
    path = tmp_path / "quiz.jsonl"
    rows = [
        {"story": f"Story {i}.", "question": "Which?", "options": ["a", "b", "c", "d"],
         "answer": "abcd"[i % 4]}
        for i in range(20)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = _add(SourceRef("files", str(path)), choice_label="text")
    assert report.choices == 4
    labels = sorted(r["label"] for s in ("train", "validation") for r in _lines(report.folder, s))
    assert labels == sorted(i % 4 for i in range(20))


def test_tsv_regression_and_a_separate_validation_file(tmp_path: Path) -> None:
    train, validation = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    header = "sentence1\tsentence2\tscore\n"
    train.write_text(header + "".join(f"a {i}\tb {i}\t{i / 4}\n" for i in range(8)))
    validation.write_text(header + "x\ty\t1.5\n")
    report = _add(SourceRef("files", str(train), validation=str(validation)))
    assert report.sizes == {"train": 8, "validation": 1}
    assert _lines(report.folder, "validation") == [{"text": "x", "text_pair": "y", "label": 1.5}]


def test_span_qa_answers_found_in_the_context(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"  # a JSON array, not JSON lines
    things = ("cat", "dog", "sun", "sea", "car", "tree", "hat", "map", "box", "key")
    rows = [{"context": f"The {c} is big.", "question": "What?", "answer": c} for c in things]
    rows.append({"context": "Nothing here.", "question": "What?", "answer": "moon"})
    path.write_text(json.dumps(rows))
    table = inspect(SourceRef("files", str(path)), _cache())
    plan = draft_plan(table, "qa", "extractive_qa")
    assert plan.columns["answers"] == ("answer",) and "answer_start" not in plan.columns
    report = stage(plan, _cache())
    assert report.bad_rows == 1
    problem = report.problems[0]
    assert (problem.where, problem.row, problem.column) == ("qa.json", 11, "answer")
    assert problem.problem == "answer 'moon' is not in the context"
    first = (_lines(report.folder, "train") + _lines(report.folder, "validation"))[0]
    assert first["answers"]["answer_start"] == [4]


def test_save_to_disk_folder_and_a_folder_of_parquet_files(tmp_path: Path) -> None:
    docs = {"article": [f"Long text {i} about it." for i in range(6)], "headline": ["It."] * 6}
    saved = tmp_path / "saved"
    datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict(docs), "dev": datasets.Dataset.from_dict(docs)}
    ).save_to_disk(str(saved))
    table = inspect(SourceRef("folder", str(saved), validation_split=None), _cache())
    assert table.splits == {"train": 6, "dev": 6}
    ref = SourceRef("folder", str(saved), validation_split="dev")
    report = _add(ref)
    assert report.sizes == {"train": 6, "validation": 6}
    assert _lines(report.folder, "train")[0] == {"document": docs["article"][0], "summary": "It."}
    files = tmp_path / "files"
    files.mkdir()
    pq.write_table(
        pa.table({"text": ["a", "b", "c", "d"], "label": [0, 1, 0, 1]}), files / "train.parquet"
    )
    pq.write_table(pa.table({"text": ["e", "f"], "label": [1, 0]}), files / "validation.parquet")
    assert _add(SourceRef("folder", str(files))).sizes == {"train": 4, "validation": 2}


def test_a_hub_dataset_through_a_local_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_HUB_MIRROR", str(tmp_path / "mirror"))
    rows = [{"text": f"t{i}", "label": i % 2} for i in range(6)]
    hub_repos.configs_repo(tmp_path / "mirror", "me/reviews", {"en": {"train": rows, "test": rows}})
    table = inspect(SourceRef("hub", "me/reviews", config="en"), _cache())
    assert table.splits == {"train": 6, "test": 6}
    ref = SourceRef("hub", "me/reviews", config="en", validation_split="test")
    assert _add(ref).sizes == {"train": 6, "validation": 6}


def test_blank_labels_and_cells_are_listed_with_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "nli.csv"
    path.write_text(PAIRS + "Extra one.,,entail\nExtra two.,A claim.,\n")
    table = inspect(SourceRef("files", str(path)), _cache())
    report = stage(draft_plan(table, "nli"), _cache())
    assert report.bad_rows == 2 and sum(report.sizes.values()) == 30
    assert [(p.row, p.column, p.problem) for p in report.problems] == [
        (31, "hypothesis", "is blank"),
        (32, "gold", "is blank"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("header.csv", b"text,label\n", "the file has no rows"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5\n", "Expected 2 fields in line 3"),
        ("broken.jsonl", b'{"a": 1}\n{"a":\n', "cannot read it as JSON"),
        ("latin.csv", "text,label\ncaf\xe9,1\n".encode("latin-1"), "not UTF-8"),
        ("notes.txt", b"hello", "cannot tell the file type"),
    ],
)
def test_unreadable_files_are_named(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(StudioError) as info:
        inspect(SourceRef("files", str(path)), _cache())
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_file_column_and_split(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="nowhere.csv: no such file"):
        inspect(SourceRef("files", str(tmp_path / "nowhere.csv")), _cache())
    path = tmp_path / "nli.csv"
    path.write_text(PAIRS)
    plan = draft_plan(inspect(SourceRef("files", str(path)), _cache()), "nli")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(PAIRS.replace("gold", "verdict", 1))
    with pytest.raises(StudioError, match=r"renamed.csv has no column\(s\) \['gold'\]"):
        stage(plan.replace(source=SourceRef("files", str(renamed))), _cache())
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "train.csv").write_text(PAIRS)
    ref = SourceRef("folder", str(folder), validation_split="dev")
    with pytest.raises(StudioError, match=r"has no split 'dev'; its splits are \['train'\]"):
        stage(plan.replace(source=ref), _cache())


def test_nothing_usable_or_too_little_to_carve(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("text,label\nonly,1\n")
    table = inspect(SourceRef("files", str(path)), _cache())
    plan = draft_plan(table, "one", "regression")
    with pytest.raises(StudioError, match="1 usable row\\(s\\): too few to carve"):
        stage(plan, _cache())
    path.write_text("text,label\n" + "x,high\n" * 5)
    table = inspect(SourceRef("files", str(path)), _cache())
    with pytest.raises(StudioError, match="map a column to 'label'"):  # no numeric column
        draft_plan(table, "x", "regression")
    plan = draft_plan(table, "x", "regression", {"label": ["label"]})
    with pytest.raises(StudioError, match="no train records.*'high' is not a number"):
        stage(plan, _cache())
    assert not [p for p in paths.library_data_dir().iterdir() if p.name.startswith(".staging")]


def test_stop_leaves_no_staging_behind(tmp_path: Path) -> None:
    path = tmp_path / "nli.csv"
    path.write_text(PAIRS)
    plan = draft_plan(inspect(SourceRef("files", str(path)), _cache()), "nli")
    stop = threading.Event()
    stop.set()
    with pytest.raises(StudioError, match="stopped"):
        stage(plan, _cache(), stop)
    assert not list(paths.library_data_dir().glob(".staging-*"))


def test_integer_labels_with_a_blank_stay_labels(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars\n" + "".join(f"r{i},{i % 3 + 1}\n" for i in range(12)) + "r,\n")
    table = inspect(SourceRef("files", str(path)), _cache())
    assert table.types["stars"] == "int"  # not the float a CSV reader makes of it
    plan = draft_plan(table, "reviews")
    assert plan.format == "classification" and plan.label_values == ("1", "2", "3")
    report = stage(plan, _cache())
    assert report.bad_rows == 1 and report.problems[0].column == "stars"


def _import_cache() -> list[str]:
    """What an import left in the cache folder (the tokenized and record caches aside)."""
    cache = _cache()
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")) if cache.exists() else []


def test_none_na_and_n_a_are_classes_and_only_empty_cells_are_blank(tmp_path: Path) -> None:
    path = tmp_path / "answers.csv"
    values = ["None", "NA", "n/a", "null", "yes"]
    path.write_text("text,label\n" + "".join(f"t{i},{values[i % 5]}\n" for i in range(20)) + "x,\n")
    table = inspect(SourceRef("files", str(path)), _cache())
    assert table.value_counts("label", ["train"]) == {**{v: 4 for v in values}, "": 1}
    plan = draft_plan(table, "answers")
    assert set(plan.label_values) == set(values)
    report = stage(plan, _cache())
    assert report.bad_rows == 1 and report.problems[0].problem == "is blank"
    assert sum(report.sizes.values()) == 20


def test_an_import_leaves_nothing_in_the_cache_refused_or_not(tmp_path: Path) -> None:
    path = tmp_path / "nli.csv"
    path.write_text(PAIRS)
    assert _import_cache() == []
    plan = draft_plan(inspect(SourceRef("files", str(path)), _cache()), "nli")
    assert _import_cache() == []
    stage(plan, _cache())
    assert _import_cache() == []
    bad = tmp_path / "ragged.csv"
    bad.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(StudioError):
        inspect(SourceRef("files", str(bad)), _cache())
    stop = threading.Event()
    stop.set()
    with pytest.raises(StudioError, match="stopped"):
        stage(plan, _cache(), stop)
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "train.csv").write_text(PAIRS)
    inspect(SourceRef("folder", str(folder)), _cache())
    assert _import_cache() == []


def test_an_import_a_kill_stopped_is_dropped_by_the_next(tmp_path: Path) -> None:
    left = _cache() / ".import-999999999-abc"  # its process is gone
    (left / "csv").mkdir(parents=True)
    path = tmp_path / "nli.csv"
    path.write_text(PAIRS)
    inspect(SourceRef("files", str(path)), _cache())
    assert _import_cache() == []


def test_a_label_column_of_many_values_is_called_a_text_column(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("title,body\n" + "".join(f"t{i},body {i}\n" for i in range(50_000)))
    table = inspect(SourceRef("files", str(path)), _cache())
    assert table.distinct_values("body", ["train"]) == 50_000
    with pytest.raises(StudioError) as info:
        draft_plan(table, "many", "classification", {"text": ["title"], "label": ["body"]})
    message = str(info.value)
    assert "column 'body' has 50,000 distinct values" in message and "text column" in message
    assert "0 value(s)" not in message


def test_a_carved_validation_set_keeps_every_labels_share(tmp_path: Path) -> None:
    path = tmp_path / "rare.csv"
    labels = ["common"] * 36 + ["rare"] * 4 + ["single"]
    path.write_text("text,label\n" + "".join(f"t{i},{v}\n" for i, v in enumerate(labels)))
    table = inspect(SourceRef("files", str(path)), _cache())
    plan = draft_plan(table, "rare", validation_fraction=0.25)
    for seed in range(5):  # an unstratified draw of 10 from 41 misses "rare" now and then
        report = stage(plan.replace(seed=seed), _cache())
        assert report.label_counts["validation"] == {"common": 9, "rare": 1}
        assert report.label_counts["train"] == {"common": 27, "rare": 3, "single": 1}
