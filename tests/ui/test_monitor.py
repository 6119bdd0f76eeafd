"""The Monitor tab: curves from the run store, incremental polling, controls, progress and log."""

from __future__ import annotations

import math
import sqlite3
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from studio.core.sink import MetricRow
from studio.store.runs import RunStore
from studio.ui.monitor.run_status import explaining_line
from studio.ui.monitor.view import MonitorView
from studio.ui.plotting.series import DETAIL_MAX, ENVELOPE_BLOCKS, SMOOTH, STEP, VALUE, Series, ema
from tests.ui.helpers import state_for

TASKS = ["rte", "cola"]
T0 = 1_700_000_000.0  # wall time of step 1; each step takes 2 s


def _rows(steps: range, tasks: list[str] = TASKS) -> list[MetricRow]:
    rows: list[MetricRow] = []
    for s in steps:
        wall = T0 + 2.0 * (s - 1)
        for i, task in enumerate(tasks):
            rows.append(MetricRow(s, "loss", 1.0 + i + 1.0 / s, task, wall))
            rows.append(MetricRow(s, "scaled_loss", 0.5 / s, task, wall))
            rows.append(MetricRow(s, "share", 0.5, task, wall))
        rows.append(MetricRow(s, "total_loss", 2.0 + math.sin(s), None, wall))
        rows.append(MetricRow(s, "lr", 1e-5, None, wall))
        rows.append(MetricRow(s, "grad_norm", 1.0 + s % 3, None, wall))
        rows.append(MetricRow(s, "examples_per_s", 100.0 + s, None, wall))
        if s % 10 == 0:
            rows.append(MetricRow(s, "eval_accuracy", 0.5 + s / 200, "rte", wall))
            rows.append(MetricRow(s, "eval_matthews", s / 100, "cola", wall))
            rows.append(MetricRow(s, "eval_loss", 1.0 / s, "rte", wall))
            rows.append(MetricRow(s, "eval_mean", 0.3 + s / 200, None, wall))
    return rows


def _make_run(store: RunStore, name: str = "muppet", steps: int = 50, **kw) -> str:
    run_id = store.create_run(
        name, "pretrain", {"tasks": TASKS}, "tiny", max_steps=100, status="running", **kw
    )
    store.add_metrics(run_id, _rows(range(1, steps + 1)))
    store.update_run(run_id, step=steps)
    store.add_logs(
        run_id, [(T0, "INFO", "loading 2 tasks"), (T0 + 1, "ERROR", "NaN loss <cola> skipped")]
    )
    return run_id


@pytest.fixture
def view(qtbot, store: RunStore, catalog):
    widget = MonitorView(state_for(store.path, catalog))
    qtbot.addWidget(widget)
    yield widget
    widget.watcher.close()


def test_show_runs_loads_every_series(view: MonitorView, store: RunStore) -> None:
    run = _make_run(store)
    view.show_runs([run])
    x, y = view.curve_data(run, "loss", "rte")
    np.testing.assert_array_equal(x, np.arange(1, 51))
    np.testing.assert_allclose(y, [1.0 + 1.0 / s for s in range(1, 51)])
    assert view.curve_data(run, "total_loss")[1].size == 50
    # Validation shows each task's primary metric from the catalog, and eval_mean.
    assert view.curve_item(run, "eval_accuracy", "rte") is not None
    assert view.curve_item(run, "eval_matthews", "cola") is not None
    assert view.curve_item(run, "eval_mean") is not None
    assert view.curve_item(run, "eval_loss", "rte") is None  # stored, not plotted
    assert view.curve_item(run, "scaled_loss", "rte") is None
    assert view.run_ids == [run]
    item = view.curve_item(run, "total_loss")
    assert item.opts["autoDownsample"] and item.opts["downsampleMethod"] == "peak"
    assert item.opts["clipToView"]


def test_poll_appends_to_the_same_curve_objects(view: MonitorView, store: RunStore) -> None:
    run = _make_run(store)
    view.show_runs([run])
    keys = [("loss", "rte"), ("total_loss", None), ("eval_accuracy", "rte")]
    before = {(n, t): view.curve_item(run, n, t) for n, t in keys}
    assert view.poll() is False  # nothing new
    store.add_metrics(run, _rows(range(51, 61)))
    assert view.poll() is True
    x, _ = view.curve_data(run, "loss", "rte")
    np.testing.assert_array_equal(x, np.arange(1, 61))
    for (name, task), item in before.items():
        assert view.curve_item(run, name, task) is item  # fed new data, never re-plotted
    assert before[("loss", "rte")].xData.size == 60
    assert before[("eval_accuracy", "rte")].xData.size == 6
    assert view.poll() is False


def test_series_buffer_grows_by_doubling() -> None:
    series = Series(capacity=4)
    for k in range(10):
        series.extend(np.array([k]), np.array([0.0]), np.array([float(k)]))
    assert series.n == 10 and series._data.shape[1] == 16
    np.testing.assert_array_equal(series.value, np.arange(10.0))


def _ema_loop(x: np.ndarray, alpha: float) -> np.ndarray:
    out, y = [], math.nan
    for v in x:
        if not math.isfinite(v):
            out.append(math.nan)
            continue
        y = v if math.isnan(y) else alpha * y + (1 - alpha) * v
        out.append(y)
    return np.array(out)


@pytest.mark.parametrize("alpha", [0.05, 0.6, 0.99])
def test_ema_matches_the_recurrence_and_skips_nan(alpha: float) -> None:
    x = np.random.default_rng(0).normal(size=5000) + 3
    x[::97] = np.nan
    np.testing.assert_allclose(ema(x, alpha), _ema_loop(x, alpha), rtol=1e-9, equal_nan=True)
    series = Series(capacity=2)
    series.set_alpha(alpha)
    for start in range(0, 5000, 37):  # incremental smoothing equals smoothing the whole
        chunk = x[start : start + 37]
        series.extend(np.arange(chunk.size), np.zeros(chunk.size), chunk)
    np.testing.assert_allclose(series.smooth, _ema_loop(x, alpha), rtol=1e-9, equal_nan=True)


def test_long_series_draw_an_incremental_min_max_envelope() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=100_003)
    y[5000:5100] = np.nan
    grown, whole = Series(), Series()
    whole.extend(np.arange(y.size), np.zeros(y.size), y)
    for start in range(0, y.size, 9_999):  # appended in polls, envelope extended each time
        chunk = y[start : start + 9_999]
        grown.extend(np.arange(start, start + chunk.size), np.zeros(chunk.size), chunk)
        grown.drawable(STEP, VALUE)
    ex, ey = grown.drawable(STEP, VALUE)
    np.testing.assert_array_equal(ex, whole.drawable(STEP, VALUE)[0])
    np.testing.assert_array_equal(ey, whole.drawable(STEP, VALUE)[1])
    assert y.size > DETAIL_MAX and ex.size <= 2 * ENVELOPE_BLOCKS + 32
    assert np.all(np.diff(ex) >= 0)  # still sorted, as clip-to-view needs
    assert np.nanmax(ey) == np.nanmax(y) and np.nanmin(ey) == np.nanmin(y)
    assert ex[-1] == y.size - 1 and ey[-1] == y[-1]  # the live end is drawn point by point
    assert grown.drawable(STEP, VALUE, full=True)[1].size == y.size
    grown.drawable(STEP, SMOOTH)  # unsmoothed: the raw envelope
    grown.set_alpha(0.9)  # a new smoothing replaces the smoothed envelope
    whole.set_alpha(0.9)
    smoothed = grown.drawable(STEP, SMOOTH)[1]
    np.testing.assert_allclose(smoothed, whole.drawable(STEP, SMOOTH)[1], rtol=1e-9)
    assert smoothed[-1] == pytest.approx(_ema_loop(y, 0.9)[-1])


def test_zooming_in_draws_every_point_and_fit_follows_again(view: MonitorView, store) -> None:
    run = store.create_run("long", "pretrain", {"tasks": []}, "tiny", max_steps=30_000)
    n = DETAIL_MAX + 5_000
    store.add_metrics(run, [MetricRow(s, "lr", 1e-5 * s, None, T0 + s) for s in range(n)])
    view.show_runs([run])
    item = view.curve_item(run, "lr")
    assert item.xData.size < 2 * ENVELOPE_BLOCKS + 32  # following the run: an envelope
    view.plots["lr"].plot.setXRange(100, 200)  # a zoom turns x auto-range off
    assert item.xData.size == n
    view.plots["lr"].plot.enableAutoRange()
    assert item.xData.size < 2 * ENVELOPE_BLOCKS + 32


def test_smoothing_changes_the_drawn_curve_not_the_data(view: MonitorView, store) -> None:
    run = _make_run(store)
    view.show_runs([run])
    raw = view.curve_data(run, "total_loss")[1]
    item = view.curve_item(run, "total_loss")
    view.set_smoothing(0.9)
    shown = item.yData
    assert not np.allclose(shown, raw)
    np.testing.assert_allclose(shown, _ema_loop(raw, 0.9))
    np.testing.assert_array_equal(view.curve_data(run, "total_loss")[1], raw)
    assert view.smoothing_slider.value() == 90
    view.set_smoothing(0.0)
    np.testing.assert_array_equal(item.yData, raw)
    shadow = view.plots["total"].curves[(run, None, "total_loss")].shadow
    assert not shadow.isVisible()
    view.smoothing_slider.setValue(50)  # the slider drives the same setter
    assert view.plots["total"].curves[(run, None, "total_loss")].shadow.isVisible()
    assert not np.allclose(item.yData, raw)


def test_log_y_applies_to_loss_and_grad_norm(view: MonitorView, store) -> None:
    view.show_runs([_make_run(store)])
    view.set_log_y(True)
    assert view.log_check.isChecked()
    for key in ("total", "task_loss", "grad"):
        assert view.plots[key].plot.getAxis("left").logMode
    assert not view.plots["lr"].plot.getAxis("left").logMode
    view.log_check.setChecked(False)
    assert not view.plots["total"].plot.getAxis("left").logMode


def test_time_axis_is_minutes_since_the_first_row(view: MonitorView, store) -> None:
    run = _make_run(store)
    view.show_runs([run])
    view.set_x_axis("time")
    x, _ = view.curve_data(run, "total_loss")
    np.testing.assert_allclose(x, 2.0 * np.arange(50) / 60.0)
    assert view.curve_item(run, "total_loss").xData[-1] == pytest.approx(x[-1])
    assert view.x_combo.currentText() == "time"
    view.x_combo.setCurrentText("step")
    np.testing.assert_array_equal(view.curve_data(run, "total_loss")[0], np.arange(1, 51))
    with pytest.raises(ValueError):
        view.set_x_axis("epoch")


def test_overlay_draws_every_run_with_its_own_style(view: MonitorView, store) -> None:
    first, second = _make_run(store, "alpha"), _make_run(store, "beta", steps=30)
    view.show_runs([first, second])
    a, b = view.curve_item(first, "loss", "rte"), view.curve_item(second, "loss", "rte")
    assert a is not None and b is not None and a is not b
    assert b.xData.size == 30
    assert a.opts["pen"].style() != b.opts["pen"].style()
    # The mean is told by its width, so that dashes keep meaning "the second run".
    mean_a, mean_b = view.curve_item(first, "eval_mean"), view.curve_item(second, "eval_mean")
    assert mean_a.opts["pen"].style() == a.opts["pen"].style()
    assert mean_b.opts["pen"].style() == b.opts["pen"].style()
    assert mean_a.opts["pen"].widthF() > a.opts["pen"].widthF()
    labels = [label.text for _, label in view.plots["task_loss"].legend.items]
    assert "alpha · rte" in labels and "beta · cola" in labels
    store.add_metrics(second, _rows(range(31, 33)))
    assert view.poll() is True
    assert view.curve_data(second, "loss", "rte")[0].size == 32


def test_toggling_a_task_hides_its_curves(view: MonitorView, store) -> None:
    run = _make_run(store)
    view.show_runs([run])
    item = view.task_list.findItems("rte", Qt.MatchFlag.MatchExactly)[0]
    item.setCheckState(Qt.CheckState.Unchecked)
    assert not view.curve_item(run, "loss", "rte").isVisible()
    assert not view.curve_item(run, "eval_accuracy", "rte").isVisible()
    assert view.curve_item(run, "loss", "cola").isVisible()
    store.add_metrics(run, _rows(range(51, 53)))
    view.poll()
    assert not view.curve_item(run, "loss", "rte").isVisible()  # new rows keep it hidden
    view.set_task_visible("rte", True)
    assert view.curve_item(run, "loss", "rte").isVisible()
    assert item.checkState() == Qt.CheckState.Checked


def test_progress_shows_step_eta_and_status(view: MonitorView, store) -> None:
    run = _make_run(store)
    view.show_runs([run])
    text = view.progress_text()
    assert "step 50 / 100" in text and "running" in text
    assert "ETA 1m 40s" in text  # 50 steps left at 2 s a step
    assert "150 ex/s" in text
    store.update_run(run, step=60)
    assert view.poll() is True
    assert "step 60 / 100" in view.progress_text()
    store.set_status(run, "failed", error="CUDA out of memory")
    view.poll()
    assert "failed" in view.progress_text() and "CUDA out of memory" in view.progress_text()


def test_a_preparing_run_shows_its_stage(view: MonitorView, store) -> None:
    run = store.create_run("big", "pretrain", {"tasks": ["mnli"]}, "minilm", max_steps=100)
    store.set_status(run, "running")
    store.update_run(run, stage="tokenizing mnli (1 of 1): 41%", stage_progress=0.41)
    view.show_runs([run])
    assert (
        "preparing" in view.progress_text()
        and "tokenizing mnli (1 of 1): 41%" in view.progress_text()
    )
    assert view.status.bar.value() == 410
    store.update_run(run, stage="loading the model", stage_progress=None)
    view.poll()
    assert "loading the model" in view.progress_text() and view.status.bar.maximum() == 0  # busy
    store.update_run(run, stage=None, step=1)
    view.poll()
    assert "step 1 / 100" in view.progress_text()


def test_validating_and_stopping_say_so(view: MonitorView, store) -> None:
    run = _make_run(store)
    view.show_runs([run])
    store.update_run(run, stage="validating · rte (2 of 2)", stage_progress=0.5)
    view.poll()
    assert view.status.bar.text() == "validating" and "rte (2 of 2)" in view.progress_text()
    assert "running" not in view.progress_text()
    store.update_run(run, stage=None)
    view.status.stopping()
    view.poll()
    assert "stopping…" in view.progress_text()
    store.update_run(run, stage="stopping · saving a checkpoint")
    view.poll()
    assert view.status.bar.text() == "stopping" and "saving a checkpoint" in view.progress_text()
    store.update_run(run, stage=None)
    store.set_status(run, "stopped")
    view.poll()
    assert "stopped" in view.progress_text() and "stopping" not in view.progress_text()


def test_eta_ignores_an_interval_that_held_a_validation(view: MonitorView, store) -> None:
    run = _make_run(store)
    # Update 51 came 100 s after update 50 (a validation ran between them): still 2 s a step.
    store.add_metrics(run, [MetricRow(51, "total_loss", 1.0, None, T0 + 2.0 * 49 + 100.0)])
    store.update_run(run, step=51)
    view.show_runs([run])
    assert "ETA 1m 38s" in view.progress_text()  # 49 updates left at 2 s each


def test_a_new_run_does_not_open_on_the_last_runs_ranges(view: MonitorView, store) -> None:
    view.show_runs([_make_run(store, steps=50)])
    loss = view.plots["total"].plot
    loss.vb.updateAutoRange()  # what the next paint does
    assert loss.viewRange()[0][1] >= 50
    empty = store.create_run("new", "pretrain", {"tasks": TASKS}, "tiny", max_steps=10)
    view.show_runs([empty])
    loss.vb.updateAutoRange()
    assert loss.viewRange()[0][1] <= 1


def test_log_panel_appends_new_lines(view: MonitorView, store) -> None:
    run = _make_run(store)
    view.show_runs([run])
    assert "loading 2 tasks" in view.log_text()
    assert "ERROR" in view.log_text() and "NaN loss <cola> skipped" in view.log_text()
    store.add_log(run, "WARNING", "checkpoint saved late")
    assert view.poll() is True
    assert view.log_text().count("loading 2 tasks") == 1
    assert view.log_text().splitlines()[-1].endswith("checkpoint saved late")


def test_an_unreadable_store_is_reported_then_recovered(
    qtbot, view: MonitorView, store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _make_run(store)
    view.show()
    view.show_runs([run])
    assert "running" in view.progress_text()

    def locked(*_: object, **__: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(RunStore, "metrics_after", locked)
        view._tick()
        assert "cannot read the run store: database is locked" in view.progress_text()
    view._tick()  # readable again: the run's status comes back though nothing changed
    assert "running" in view.progress_text() and "cannot read" not in view.progress_text()


def test_unknown_run_shows_an_empty_view(view: MonitorView) -> None:
    view.show_runs(["no-such-run"])
    assert "not in the store" in view.progress_text()
    assert view.curve_data("no-such-run", "total_loss")[0].size == 0
    assert view.poll() is False
    view.show_runs([])
    assert view.poll() is False


def test_nan_values_and_log_axis_do_not_warn(view: MonitorView, store) -> None:
    run = _make_run(store, steps=5)
    store.add_metrics(run, [MetricRow(6, "total_loss", float("nan"), None, T0 + 10)])
    store.add_metrics(run, [MetricRow(7, "total_loss", 0.0, None, T0 + 12)])
    view.show_runs([run])
    view.set_log_y(True)
    view.grab()  # render: pyqtgraph maps the data to log10 here
    assert math.isnan(view.curve_data(run, "total_loss")[1][5])


def test_hover_reads_out_the_nearest_point(qtbot, view: MonitorView, store) -> None:
    run = _make_run(store)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    view.show_runs([run])
    view.set_smoothing(0.0)
    qtbot.wait(50)  # let the plots lay out and auto-range before mapping data to the scene
    panel = view.plots["lr"]
    scene_pos = panel.plot.vb.mapViewToScene(QPointF(25.0, 1e-5))
    view.graphics.scene().sigMouseMoved.emit(scene_pos)
    qtbot.waitUntil(lambda: "lr" in view.readout.text(), timeout=2000)
    assert "step 25" in view.readout.text() and "1e-05" in view.readout.text()
    assert "raw" not in view.readout.text()  # nothing smoothed, so no separate raw value


def test_timer_follows_a_run_written_by_another_thread(qtbot, view, store) -> None:
    run = _make_run(store, steps=10)
    view.show()
    view.show_runs([run])
    view.watcher.start()  # the window's one timer

    def write() -> None:
        with RunStore(store.path) as writer:  # its own connection, as a training thread has
            for start in range(11, 51, 10):
                writer.add_metrics(run, _rows(range(start, start + 10)))

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: view.curve_data(run, "total_loss")[0].size == 50, timeout=3000)
    np.testing.assert_array_equal(view.curve_data(run, "loss", "cola")[0], np.arange(1, 51))


def test_a_closed_connection_is_opened_again_by_the_next_read(view: MonitorView, store) -> None:
    run = _make_run(store)
    view.show_runs([run])
    view.watcher.close()
    assert view.poll() is False
    view.show_runs([run])
    assert view.curve_data(run, "total_loss")[0].size == 50


def test_rows_deleted_by_a_resume_elsewhere_are_redrawn(view: MonitorView, store) -> None:
    run = _make_run(store, steps=15)
    view.show_runs([run])
    # Another process resumes from the checkpoint of step 10: rows 11-15 go and come again.
    store.delete_metrics_after(run, 10)
    again = [
        MetricRow(r.step, r.name, r.value + 5, r.task, r.wall_time) for r in _rows(range(11, 16))
    ]
    store.add_metrics(run, again)
    assert view.poll() is True
    x, y = view.curve_data(run, "loss", "rte")
    np.testing.assert_array_equal(x, np.arange(1, 16))  # not 1-15 then 11-15 again
    assert y[-1] == pytest.approx(6.0 + 1.0 / 15)
    assert view.poll() is False


def test_nothing_shown_says_what_to_do(qtbot, view: MonitorView, store: RunStore) -> None:
    assert view.pages.currentWidget() is view.empty
    assert "Start" in view.empty.text.text()
    with qtbot.waitSignal(view.demoRequested):
        view.empty.buttons["Try the demo"].click()
    view.show_runs([_make_run(store)])
    assert view.pages.currentWidget() is not view.empty
    view.show_runs([])
    assert view.pages.currentWidget() is view.empty


def test_a_failed_run_shows_its_error_and_the_line_that_explains_it(
    view: MonitorView, store: RunStore
) -> None:
    run = _make_run(store, steps=5)
    view.show_runs([run])
    assert view.failure.isHidden()
    trace = (
        "Traceback (most recent call last):\n  File x\ntorch.OutOfMemoryError: CUDA out of memory"
    )
    store.add_logs(run, [(T0 + 9, "ERROR", f"training failed\n{trace}")])
    store.set_status(run, "failed", error="training failed")
    view.poll()
    assert not view.failure.isHidden()
    text = view.failure.text()
    assert "failed at update 5" in text and "training failed" in text
    assert "torch.OutOfMemoryError: CUDA out of memory" in text


@pytest.mark.parametrize(
    ("logs", "line"),
    [
        ([("ERROR", "loss is NaN\nTraceback\nValueError: loss is NaN")], None),  # the error again
        ([("WARNING", "task cola: loss not finite at update 3"), ("ERROR", "loss is NaN")],
         "task cola: loss not finite at update 3"),
        ([("ERROR", "loss is NaN\nTraceback\nKeyError: 'label'")], "KeyError: 'label'"),
        ([], None),
    ],
)  # fmt: skip
def test_explaining_line(logs: list[tuple[str, str]], line: str | None) -> None:
    rows = [{"level": level, "message": message} for level, message in logs]
    assert explaining_line(rows, "ValueError: loss is NaN") == line


def test_a_constant_curve_is_shown_around_its_value(view: MonitorView, store) -> None:
    run = _make_run(store)  # its learning rate is 1e-5 throughout
    view.show_runs([run])
    low, high = view.plots["lr"].plot.viewRange()[1]
    assert low < 1e-5 < high and high - low < 1e-4  # not pyqtgraph's ±0.5 around it
    store.add_metrics(run, [MetricRow(51, "lr", 2e-5, None, T0 + 100.0)])
    view.poll()
    view.plots["lr"].plot.vb.updateAutoRange()
    assert view.plots["lr"].plot.vb.autoRangeEnabled()[1]  # it varies: auto-range again
