"""The user's own tasks through the command line, as a new user would: `task add` from a CSV of
pairs with string labels and a parquet file of multiple-choice questions, then a run that mixes
them with built-in tasks, an export and a transfer; and every bad input refused cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from studio.cli.commands import main
from studio.core import paths
from studio.store import RunStore

LABELS = ("entailment", "neutral", "contradiction")


def _pairs_csv(folder: Path) -> Path:
    path = folder / "my pairs.csv"
    lines = ["sentence1,sentence2,verdict"]
    for i in range(60):
        lines.append(f'"A person number {i} walks.","Someone {i} moves.",{LABELS[i % 3]}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _quiz_parquet(folder: Path) -> Path:
    path = folder / "quiz.parquet"
    n = 40
    table = {
        "question": [f"Which colour is number {i}?" for i in range(n)],
        "choice_a": ["red"] * n,
        "choice_b": ["green"] * n,
        "choice_c": ["blue"] * n,
        "choice_d": ["black"] * n,
        "answer": ["ABCD"[i % 4] for i in range(n)],
    }
    pq.write_table(pa.table(table), path)
    return path


def _add(*args: str) -> int:
    return main(["task", "add", *args])


def _library() -> list[str]:
    """Everything in the user's library (specs and data), to prove nothing was half-written."""
    home = paths.studio_home()
    return sorted(
        str(p.relative_to(home))
        for folder in (paths.user_tasks_dir(), paths.library_data_dir())
        if folder.exists()
        for p in folder.rglob("*")
    )


@pytest.mark.train
def test_user_tasks_train_export_and_transfer(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    assert _add("my_pairs", "--file", str(_pairs_csv(tmp_path)), "--labels", ",".join(LABELS)) == 0
    assert _add("my_quiz", "--file", str(_quiz_parquet(tmp_path)), "--title", "Colour quiz") == 0
    capsys.readouterr()
    assert main(["tasks", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["my_pairs"]["origin"] == "user" and rows["rte"]["origin"] == "builtin"
    assert rows["my_pairs"]["format"] == "pair_classification"
    assert rows["my_pairs"]["labels"] == list(LABELS)
    assert (rows["my_pairs"]["train_size"], rows["my_pairs"]["validation_size"]) == (54, 6)
    assert rows["my_quiz"]["format"] == "multiple_choice" and rows["my_quiz"]["choices"] == 4
    assert main(["task", "show", "my_quiz", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["title"] == "Colour quiz" and shown["added"]["skipped_rows"] == 0
    assert shown["records"][0]["choices"] == ["red", "green", "blue", "black"]
    assert sum(shown["splits"]["train"]["labels"].values()) == 36

    store = tmp_path / "studio.db"
    config = {
        "tasks": ["my_pairs", "my_quiz", "synth_sentiment"],
        "model": tiny_model,
        "max_steps": 6,
        "eval_every": 6,
        "checkpoint_every": 6,
        "batch_size": 8,
        "max_length": 64,
        "device": "cpu",
        "log_every": 1,
    }
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(yaml.safe_dump(config))
    assert main(["train", str(run_yaml), "--store", str(store)]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    with RunStore(store) as db:
        assert db.get_run(run_id).status == "finished"
        tasks = {r["task"] for r in db.metrics_after(0, run_id) if r["name"] == "eval_accuracy"}
    assert tasks == {"my_pairs", "my_quiz", "synth_sentiment"}  # what the Monitor plots

    out = tmp_path / "export"
    assert main(["export", run_id, str(out), "--store", str(store), "--checkpoint", "latest"]) == 0
    capsys.readouterr()
    heads = json.loads((out / "heads.json").read_text())
    assert "my_pairs" in json.dumps(heads)

    transfer = {
        "source": run_id,
        "checkpoint": "latest",
        "base_model": tiny_model,
        "targets": ["my_pairs"],
        "sizes": [16],
        "seeds": [0],
        "batch_size": 8,
        "epochs": 1.0,
        "max_length": 64,
        "device": "cpu",
    }
    transfer_yaml = tmp_path / "transfer.yaml"
    transfer_yaml.write_text(yaml.safe_dump(transfer))
    assert main(["transfer", str(transfer_yaml), "--store", str(store), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert {(r["target"], r["model"]) for r in results} == {
        ("my_pairs", "base"),
        ("my_pairs", "pretuned"),
    }
    assert main(["task", "remove", "my_quiz"]) == 0
    assert not (paths.library_data_dir() / "my_quiz").exists()


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (
            "sentence1,sentence2,verdict\na,b,yes\nc,d,no\n",
            ["--map", "text=premise"],
            "column(s) ['premise'] are not in",
        ),
        ("", [], "the file is empty"),
        (
            "text,label\n" + "".join(f"t{i},{['pos', 'neg', ''][i % 3]}\n" for i in range(12)),
            [],
            "4 row(s) cannot become records of 'mine'; nothing was saved",
        ),
        (
            "context,question,answer\nThe cat sat.,Who?,cat\nThe dog ran.,Who?,bird\n"
            "A hat.,What?,hat\nA car.,What?,car\n",
            ["--format", "extractive_qa"],
            "1 row(s) cannot become records",
        ),
    ],
)
def test_bad_input_names_the_problem_and_saves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, content: str, args: list[str], message: str
) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content)
    assert _add("mine", "--file", str(path), *args) == 2
    err = capsys.readouterr().err
    assert message in err
    if "row(s)" in message:
        assert "data.csv, row" in err  # each bad row: file, row and column
    assert _library() == []


def test_names_and_sources_are_checked_first(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _pairs_csv(tmp_path)
    assert _add("rte", "--file", str(path)) == 2
    assert "'rte' is a built-in task" in capsys.readouterr().err
    assert _add("bad name", "--file", str(path)) == 2
    assert "letters, digits and underscores" in capsys.readouterr().err
    assert _add("mine", "--file", str(tmp_path / "missing.csv")) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    assert _add("mine", "--folder", str(tmp_path), "--validation", str(path)) == 2
    assert "--validation goes with --file" in capsys.readouterr().err
    assert _add("mine", "--file", str(path)) == 0
    assert _add("mine", "--file", str(path)) == 2
    assert "already in your library" in capsys.readouterr().err
    assert (
        _add(
            "mine", "--file", str(path), "--replace", "--labels", "neutral,entailment,contradiction"
        )
        == 0
    )
    assert main(["task", "show", "mine"]) == 0
    assert "labels:   neutral, entailment, contradiction" in capsys.readouterr().out
    assert main(["task", "remove", "rte"]) == 2
    assert "built-in" in capsys.readouterr().err
    assert not [p for p in _library() if "/." in p]


def test_a_broken_user_spec_is_a_warning_and_a_tasks_dir_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    paths.user_tasks_dir().mkdir(parents=True)
    (paths.user_tasks_dir() / "oops.yaml").write_text("name: oops\nfamily: nope\n")
    team = tmp_path / "team"
    (team / "pairs").mkdir(parents=True)
    for split in ("train", "validation"):
        (team / "pairs" / f"{split}.jsonl").write_text('{"text": "a", "label": 1}\n')
    (team / "team_task.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "team_task",
                "family": "classification",
                "format": "classification",
                "labels": ["no", "yes"],
                "source": {"folder": "pairs"},
            }
        )  # fmt: skip
    )
    assert main(["tasks", "--json", "--tasks-dir", str(team)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["team_task"]["available"] and rows["team_task"]["origin"] == "user"
    assert "oops" not in rows and "rte" in rows
    assert any("oops.yaml" in r.message and "missing key" in r.message for r in caplog.records)
    assert main(["task", "show", "oops"]) == 2
    assert "oops.yaml" in capsys.readouterr().err  # the broken file is named


def test_one_config_of_a_parquet_export_from_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from tests import hub_repos

    monkeypatch.setenv("STUDIO_HUB_MIRROR", str(tmp_path / "mirror"))
    rows = [{"sentence": f"s{i}", "label": i % 2} for i in range(8)]
    other = [{"sentence": f"o{i}", "label": 1} for i in range(3)]
    for config, data in (("cola", rows), ("sst2", other)):
        hub_repos.export_repo(
            tmp_path / "mirror", "me/glue", {"train": data, "validation": data}, config
        )
    args = ["--hub", "me/glue", "--revision", "refs/convert/parquet", "--hub-data-dir", "cola"]
    assert _add("my_cola", *args) == 0
    shown = yaml.safe_load((paths.user_tasks_dir() / "my_cola.yaml").read_text())
    assert shown["added"]["sizes"] == {"train": 8, "validation": 8}  # cola only, not sst2
    assert shown["added"]["plan"]["source"]["data_dir"] == "cola"
    assert "me/glue [cola] @ refs/convert/parquet" in shown["added"]["from"]


def test_a_long_name_is_refused_before_any_file_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = _pairs_csv(tmp_path)
    assert _add("a" * 5000, "--file", str(path)) == 2
    err = capsys.readouterr().err
    assert "5,000 characters long; use at most 64" in err and "Traceback" not in err
    assert len(err) < 400 and _library() == []


def test_na_like_labels_are_classes_and_imports_leave_no_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "answers.csv"
    values = ["None", "NA", "n/a"]
    path.write_text("text,label\n" + "".join(f"t{i},{values[i % 3]}\n" for i in range(30)))
    cache = paths.cache_dir()
    assert _add("answers", "--file", str(path)) == 0
    assert list(cache.rglob("*")) == []  # no Arrow copy of the file, no lock files
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\n" + "".join(f"t{i},{['a', 'b', ''][i % 3]}\n" for i in range(9)))
    assert _add("refused", "--file", str(bad)) == 2  # blank labels: refused
    assert list(cache.rglob("*")) == []
    assert main(["task", "show", "answers"]) == 0
    assert "labels:   n/a, NA, None" in capsys.readouterr().out


def test_wrongly_typed_user_specs_are_left_out_and_a_linked_task_is_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    mine = paths.user_tasks_dir()
    mine.mkdir(parents=True)
    spec = {"family": "classification", "format": "classification", "labels": ["a", "b"]}
    (mine / "listed.yaml").write_text(
        yaml.safe_dump({"name": "listed", **spec, "source": {"local": ["x", "y"]}})
    )
    (mine / "mapped.yaml").write_text(
        yaml.safe_dump({"name": "mapped", **spec, "source": {"synthetic": {"n": 1}}})
    )
    assert main(["tasks", "--json"]) == 0
    rows = {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert "rte" in rows and not rows & {"listed", "mapped"}
    messages = "\n".join(r.message for r in caplog.records)
    assert "listed.yaml: source.local must be text, not a list" in messages
    assert "mapped.yaml: source.synthetic must be text, not a mapping" in messages
    (mine / "listed.yaml").unlink()
    (mine / "mapped.yaml").unlink()
    assert _add("mine", "--file", str(_pairs_csv(tmp_path))) == 0
    data = paths.library_data_dir() / "mine"
    data.rename(tmp_path / "kept")
    data.symlink_to(tmp_path / "kept", target_is_directory=True)
    assert main(["task", "remove", "mine"]) == 0
    assert (tmp_path / "kept" / "train.jsonl").is_file() and _library() == []
