"""The HTML report of a stored run of each kind, end to end through `python -m studio report`:
rows are written straight into a store (no training)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from studio.cli.commands import main
from studio.core.errors import StudioError
from studio.core.manifest import Manifest, TaskData
from studio.core.mixing.plan import RunPlan, TaskPlan
from studio.core.sink import MetricRow
from studio.store import RunStore
from studio.store.report_data import BUILDERS, build_report, write_report

EVIL = "<script>alert(1)</script>"


class _Page(HTMLParser):
    """The tags of a page, its text, and the text of each table's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.cells: list[str] = []
        self._cell = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        self._cell = tag in ("td", "th")

    def handle_endtag(self, tag: str) -> None:
        self._cell = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell:
            self.cells.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def _manifest(torch: str) -> Manifest:
    data = {"rte": TaskData("local", "sha1:0123")}
    config = {"tasks": ["rte"], "seed": 3}
    return Manifest("0.1.0", "3.11.9", {"torch": torch}, "Linux", "cpu", 3, config, data)


def _pretrain(store: RunStore, planned: bool = True) -> str:
    config = {
        "tasks": ["rte", EVIL],
        "sampling": "proportional",
        "loss_scaling": "log_n",
        "mixing": "heterogeneous",
        "max_steps": 4,
    }
    run_id = store.create_run(f"mix {EVIL}", "pretrain", config, "minilm", "auto", 4)
    store.set_status(run_id, "running")
    if planned:  # what the loop's set-up decided (Sink.plan)
        tasks = (TaskPlan("rte", 300, 0.75, 4, 0.7213), TaskPlan(EVIL, 100, 0.25, 3, 0.9102))
        store.set_plan(run_id, RunPlan(tasks, "cpu (no precision)"))
        store.add_manifest(run_id, _manifest("2.5.1"))
    # A log line that says the same in words is never read back.
    store.add_log(run_id, "info", "task rte: 1 examples, share 0.001, loss scale 9.0000")
    rows = []
    for step in range(1, 5):
        rows += [MetricRow(step, "total_loss", 2.0 / step)]
        for task in ("rte", EVIL):
            rows += [MetricRow(step, "loss", 1.0 / step, task), MetricRow(step, "share", 0.6, task)]
            rows += [MetricRow(step, "loss_scale", 0.7213 if task == "rte" else 0.9102, task)]
    rows += [MetricRow(2, "eval_mean", 0.55), MetricRow(4, "eval_mean", 0.61)]
    rows += [MetricRow(4, "eval_accuracy", 0.62, "rte"), MetricRow(4, "eval_f1", 0.4, EVIL)]
    store.add_metrics(run_id, rows)
    store.set_status(run_id, "finished")
    return run_id


def test_pretrain_report_has_config_mix_curves_tables_and_escapes(
    store: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_id = _pretrain(store)
    out = tmp_path / "reports" / "run.html"
    assert main(["report", run_id, str(out), "--store", str(store.path)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    text = out.read_text(encoding="utf-8")
    page = _parse(text)
    assert "script" not in page.tags and EVIL not in text  # escaped everywhere
    assert "&lt;script&gt;" in text
    assert EVIL in "".join(page.text)  # and shown as text
    # One <svg> per curve: total loss, per-task loss, validation.
    assert page.tags.count("svg") == 3
    assert page.tags.count("polyline") >= 1 + 2 + 3
    # The config, as YAML.
    assert "loss_scaling: log_n" in "".join(page.text)
    # The mix: the recorded plan (examples, planned share, n and loss scale) and the drawn shares.
    cells = page.cells
    rte = cells.index("rte")
    assert cells[rte : rte + 6] == ["rte", "300", "0.750", "0.600", "4", "0.7213"]
    assert cells[cells.index(EVIL) + 1 : cells.index(EVIL) + 6] == [
        "100",
        "0.250",
        "0.600",
        "3",
        "0.9102",
    ]
    # The validation table and the environment.
    assert "accuracy" in cells and "0.6200" in cells
    assert "cpu (no precision)" in cells
    assert not any("at report time" in c for c in cells)  # what the run recorded, only
    assert "Muppet Studio" in cells and "seed" in cells and "data: rte" in cells
    assert "<script" not in text.lower()


def test_a_run_without_a_recorded_plan_shows_what_its_rows_say(
    store: RunStore, tmp_path: Path
) -> None:
    """A run from before plans were recorded: no examples, shares or device (its log lines
    are not parsed), the loss scale of its metric rows."""
    run_id = _pretrain(store, planned=False)
    page = _parse(write_report(store.path, run_id, tmp_path / "old.html").read_text("utf-8"))
    cells = page.cells
    rte = cells.index("rte")
    assert cells[rte : rte + 6] == ["rte", "—", "—", "0.600", "—", "0.7213"]
    device = cells.index("device used")
    assert cells[device + 1] == "—"


def test_transfer_and_sweep_reports_hold_their_tables(store: RunStore, tmp_path: Path) -> None:
    transfer = store.create_run("tr", "transfer", {"source": "x", "targets": ["boolq"]}, "minilm")
    for model, values in (("base", (0.5, 0.6)), ("pretuned", (0.7, 0.8))):
        for seed, value in enumerate(values):
            for k in (32, 100):
                store.add_result(
                    {"transfer_id": transfer, "target": "boolq", "k": k, "size": str(k),
                     "seed": seed, "model": model, "metric": "accuracy",
                     "value": value + k / 1000, "run_id": f"ft-{model}-{seed}-{k}", "leaked": 0}
                )  # fmt: skip
    path = write_report(store.path, transfer, tmp_path / "transfer.html")
    page = _parse(path.read_text(encoding="utf-8"))
    assert page.tags.count("svg") == 1  # one panel per target
    assert "0.5820 ± 0.0707" in page.cells  # base at k=32: mean of .532 and .632
    assert {"gain", "loss", "no difference"} & set(page.cells)  # the paired verdict
    assert "+0.2000" in page.cells  # the gain
    assert "ft-pretuned-1-100" in page.cells  # every result, too

    sweep = store.create_run("sw", "sweep", {"pool": ["a", "b"], "counts": [1, 2]}, "minilm")
    rows = []
    for n, (base, tuned) in ((1, (0.5, 0.55)), (2, (0.5, 0.6))):
        rows += [MetricRow(n, "base_mean", base), MetricRow(n, "pretuned_mean", tuned)]
        rows += [MetricRow(n, "gain", tuned - base)]
    store.add_metrics(sweep, rows)
    child = store.create_run("subset 1", "pretrain", {"tasks": ["a"]}, "minilm", source_run=sweep)
    store.add_metrics(child, [MetricRow(5, "eval_mean", 0.4)])
    page = _parse(write_report(store.path, sweep, tmp_path / "s.html").read_text(encoding="utf-8"))
    assert page.tags.count("svg") == 1
    assert page.cells[page.cells.index("2") : page.cells.index("2") + 4] == [
        "2",
        "0.5000",
        "0.6000",
        "+0.1000",
    ]
    assert "subset 1" in page.cells and child in page.cells


def test_every_kind_has_a_builder_and_unknown_runs_are_named(
    store: RunStore, tmp_path: Path
) -> None:
    from studio.store.schema import KINDS

    assert set(KINDS) <= set(BUILDERS)
    finetune = store.create_run("ft", "finetune", {"task": "rte"}, "minilm")
    store.add_metrics(
        finetune, [MetricRow(1, "loss", 0.7, "rte"), MetricRow(2, "loss", 0.5, "rte")]
    )
    report = build_report(store, finetune)
    assert [c.title for c in report.charts] == ["Per-task loss"]
    with pytest.raises(StudioError, match="no run with id 'nope'"):
        write_report(store.path, "nope", tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_ablation_report_shows_the_variants_side_by_side(store: RunStore, tmp_path: Path) -> None:
    ablation = store.create_run("mixing", "ablation", {"vary": {"mixing": ["a", "b"]}}, "minilm")
    entries = []
    for name, final in (("base", 0.6), ("mixing=homogeneous", 0.5)):
        run_id = store.create_run(
            name, "pretrain", {"tasks": ["rte"]}, "minilm", source_run=ablation
        )
        rows = [MetricRow(s, "total_loss", 1 / s) for s in (1, 2, 3)]
        rows += [MetricRow(3, "eval_mean", final), MetricRow(3, "eval_accuracy", final, "rte")]
        store.add_metrics(run_id, rows)
        entries.append({"name": name, "changes": {}, "run_id": run_id, "transfer_id": None})
    store.update_run(ablation, config={"variants": entries})
    page = _parse(write_report(store.path, ablation, tmp_path / "a.html").read_text("utf-8"))
    assert page.tags.count("svg") == 2  # total loss and validation mean, variants overlaid
    assert page.tags.count("polyline") >= 3  # two loss lines and a one-point validation each
    assert "rte (accuracy)" in page.cells  # the catalog's primary metric is a column
    row = page.cells.index("mixing=homogeneous")
    assert page.cells[row + 2 : row + 5] == ["0.5000", "0.5000", "-0.1000"]


def test_the_environment_is_the_recorded_manifest_with_a_resume_s_changes(
    store: RunStore, tmp_path: Path
) -> None:
    run_id = _pretrain(store)
    store.set_status(run_id, "running")  # a resume on another torch
    store.add_manifest(run_id, _manifest("2.6.0"))
    store.set_status(run_id, "finished")
    page = _parse(write_report(store.path, run_id, tmp_path / "r.html").read_text("utf-8"))
    cells = page.cells
    assert cells[cells.index("torch") + 1] == "2.6.0 (earlier session: 2.5.1)"
    assert cells[cells.index("data: rte") + 1] == "local sha1:0123"
    assert any("each of its 1 resume(s)" in t for t in page.text)
