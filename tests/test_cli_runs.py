"""`runs` with filters and verbs (tag, note, rename, star, show) and `compare` on three runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli.commands import main
from studio.core.manifest import Manifest, TaskData
from studio.core.sink import MetricRow
from studio.store import RunStore

Capture = pytest.CaptureFixture[str]


@pytest.fixture
def three(db_path: Path) -> list[str]:
    """Three finished runs with validation rows: gamma best on the mean, beta on rte's final."""
    ids = []
    with RunStore(db_path) as store:
        for i, name in enumerate(["alpha", "beta", "gamma"]):
            config = {"tasks": ["rte", "cola"], "learning_rate": 1e-4 * (i + 1)}
            run_id = store.create_run(name, "pretrain", config, "minilm", status="finished")
            store.add_metrics(
                run_id,
                [
                    MetricRow(5, "eval_accuracy", 0.5 + i / 10, "rte"),
                    MetricRow(10, "eval_accuracy", 0.55 + (i % 2) / 10, "rte"),
                    MetricRow(10, "eval_mcc", 0.1 * i, "cola"),
                    MetricRow(10, "eval_loss", 0.3, "rte"),  # a loss is no metric to compare
                    MetricRow(10, "eval_mean", 0.3 + i / 20),
                    MetricRow(10, "total_loss", 1.0),
                ],
            )
            ids.append(run_id)
    return ids


def _cli(db_path: Path, capsys: Capture, *argv: str) -> str:
    assert main([*argv, "--store", str(db_path)]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _listed(db_path: Path, capsys: Capture, *argv: str) -> list[str]:
    return [r["name"] for r in json.loads(_cli(db_path, capsys, "runs", "--json", *argv))]


def test_tag_note_rename_star_then_find_them(
    db_path: Path, three: list[str], capsys: Capture
) -> None:
    alpha, beta, gamma = three
    assert _cli(db_path, capsys, "runs", "tag", alpha, "+paper", "+good").split() == [
        "good", "paper",
    ]  # fmt: skip
    # -TAG is not an option, and --store may come after the tags.
    assert main(["runs", "tag", alpha, "-good", "+x", "--store", str(db_path)]) == 0
    assert capsys.readouterr().out.split() == ["paper", "x"]
    _cli(db_path, capsys, "runs", "tag", beta, "+paper")
    _cli(db_path, capsys, "runs", "note", beta, "The warm-up was too short")
    _cli(db_path, capsys, "runs", "rename", gamma, "gamma two")
    _cli(db_path, capsys, "runs", "star", gamma)
    assert _listed(db_path, capsys, "--tag", "paper") == ["beta", "alpha"]
    assert _listed(db_path, capsys, "--tag", "paper", "--tag", "x") == ["alpha"]
    assert _listed(db_path, capsys, "--search", "warm") == ["beta"]
    assert _listed(db_path, capsys, "--search", "two") == ["gamma two"]
    assert _listed(db_path, capsys, "--starred") == ["gamma two"]
    assert _listed(db_path, capsys, "--status", "finished", "--task", "cola") == [
        "gamma two", "beta", "alpha",
    ]  # fmt: skip
    assert _listed(db_path, capsys, "--status", "stopped") == []
    assert _listed(db_path, capsys, "--task", "mnli") == []
    assert _listed(db_path, capsys, "--model", "mini", "--since", "2000-01-01") == [
        "gamma two", "beta", "alpha",
    ]  # fmt: skip
    assert _listed(db_path, capsys, "--until", "2000-01-01") == []
    table = _cli(db_path, capsys, "runs")
    assert "gamma two ★" in table and "alpha  [paper, x]" in table
    (row,) = json.loads(_cli(db_path, capsys, "runs", "--json", "--search", "warm"))
    assert row["notes"] == "The warm-up was too short" and row["tags"] == ["paper"]


def test_bad_words_are_clear_errors(db_path: Path, three: list[str], capsys: Capture) -> None:
    store = ["--store", str(db_path)]
    assert main(["runs", "tag", three[0], "paper", *store]) == 2
    assert "write +TAG" in capsys.readouterr().err
    assert main(["runs", "tag", three[0], "+two words", *store]) == 2
    assert "not a tag" in capsys.readouterr().err
    assert main(["runs", "rename", "20990101-000000-beef", "x", *store]) == 2
    assert "no run with id" in capsys.readouterr().err
    assert main(["runs", "--since", "yesterday", *store]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert main(["compare", three[0], *store]) == 2
    assert "two or more" in capsys.readouterr().err


def test_show_prints_the_run_and_its_manifests(
    db_path: Path, three: list[str], capsys: Capture
) -> None:
    alpha = three[0]
    manifest = Manifest(
        "0.1.0", "3.11.9", {"torch": "2.5.1", "transformers": "4.46.0"}, "Linux-x86_64",
        "cpu (no precision)", 7, {"tasks": ["rte"], "seed": 7},
        {"rte": TaskData("hub", "hub:glue:abc", "main")}, git_commit="abc123", git_dirty=False,
    )  # fmt: skip
    with RunStore(db_path) as store:
        store.add_manifest(alpha, manifest)
        store.set_notes(alpha, "first try")
    text = _cli(db_path, capsys, "runs", "show", alpha)
    assert "notes:\n  first try" in text and "learning_rate: 0.0001" in text
    assert "manifest, start" in text and "transformers:" in text and "4.46.0" in text
    assert "hub hub:glue:abc @ main" in text and "abc123" in text
    shown = json.loads(_cli(db_path, capsys, "runs", "show", alpha, "--json"))
    assert shown["id"] == alpha and shown["manifests"][0]["seed"] == 7
    assert shown["manifests"][0]["data"]["rte"]["revision"] == "main"


def test_compare_three_runs_as_json_and_as_a_table(
    db_path: Path, three: list[str], capsys: Capture
) -> None:
    alpha, beta, gamma = three
    result = json.loads(_cli(db_path, capsys, "compare", alpha, beta, gamma, "--json"))
    assert [r["name"] for r in result["runs"]] == ["alpha", "beta", "gamma"]
    rows = {(r["task"], r["metric"]): r for r in result["rows"]}
    assert list(rows) == [("(mean)", "mean"), ("cola", "mcc"), ("rte", "accuracy")]
    rte = rows[("rte", "accuracy")]
    assert rte["values"][alpha] == {"final": 0.55, "best": 0.55}
    assert rte["values"][gamma] == {"final": 0.55, "best": pytest.approx(0.7)}
    assert rte["best_final"] == [beta] and rte["best_best"] == [gamma]
    assert rows[("(mean)", "mean")]["best_final"] == [gamma]
    table = _cli(db_path, capsys, "compare", alpha, beta, gamma).splitlines()
    assert table[0].split()[:4] == ["task", "metric", "alpha", "final"]
    rte_line = next(line for line in table if line.startswith("rte"))
    assert rte_line.split()[2:] == ["0.5500", "0.5500", "0.6500*", "0.6500", "0.5500", "0.7000*"]
    assert table[-1].startswith("* best of the row.") and gamma in table[-1]
