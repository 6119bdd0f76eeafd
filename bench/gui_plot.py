"""Monitor plot latency on a 1,000,000-point series.

Targets: redrawing a PlotDataItem of 1,000,000 points after setData <= 50 ms; a poll for new rows
<= 5 ms, both when 10 rows arrived and when none did. Runs offscreen, in well under two minutes.
Usage: python -m bench.gui_plot [--points 1000000] [--repeats 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.core.sink import MetricRow  # noqa: E402
from studio.store.runs import RunStore  # noqa: E402
from studio.ui.monitor.view import MonitorView  # noqa: E402
from studio.ui.state import StudioState  # noqa: E402

BATCH = 100_000
T0 = 1_700_000_000.0


def fill(store: RunStore, points: int) -> str:
    """One running run with `points` rows of total_loss (a noisy decaying curve)."""
    run_id = store.create_run(
        "bench", "pretrain", {"tasks": []}, "none", max_steps=2 * points, status="running"
    )
    rng = np.random.default_rng(0)
    for start in range(0, points, BATCH):
        steps = np.arange(start + 1, min(start + BATCH, points) + 1)
        values = 2.0 * np.exp(-steps / points) + 0.1 * rng.random(steps.size)
        rows = [
            MetricRow(int(s), "total_loss", float(v), None, T0 + 0.01 * float(s))
            for s, v in zip(steps, values, strict=True)
        ]
        store.add_metrics(run_id, rows)
    store.update_run(run_id, step=points)
    return run_id


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median and worst wall time of `fn` in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def report(what: str, times: tuple[float, float], target: float | None = None) -> None:
    verdict = "" if target is None else ("  ok" if times[0] <= target else "  OVER TARGET")
    goal = "" if target is None else f"  (target <= {target:g} ms)"
    print(f"{what:<52} median {times[0]:7.2f} ms  max {times[1]:7.2f} ms{goal}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "studio.db"
        with RunStore(path) as writer:
            start = time.perf_counter()
            run_id = fill(writer, args.points)
            print(f"filled {args.points:,} metric rows in {time.perf_counter() - start:.1f} s")

            state = StudioState({}, path)
            view = MonitorView(state)
            view.resize(1400, 900)
            view.show()
            app.processEvents()
            start = time.perf_counter()
            view.show_runs([run_id])
            print(f"show_runs loaded {args.points:,} rows in {time.perf_counter() - start:.2f} s")
            for _ in range(3):  # settle the layout and auto-range before timing
                view.graphics.grab()
                app.processEvents()

            item = view.curve_item(run_id, "total_loss")
            assert item is not None
            series = view.plots["total"].curves[(run_id, None, "total_loss")].series
            x, y = series.step.copy(), series.value.copy()
            assert x.size == args.points

            def set_and_render() -> None:
                item.setData(x, y)  # every point, as a zoomed view draws them
                view.graphics.grab()  # renders the whole plot grid to an image

            report("(a) setData(1,000,000 points) + render", timed(set_and_render, 9), 50)
            report("    render only", timed(view.graphics.grab, args.repeats))
            panel = view.plots["total"]

            def refresh_and_render() -> None:
                panel.refresh((run_id, None, "total_loss"))  # the live path: the envelope
                view.graphics.grab()

            report("    live curve (envelope) refresh + render", timed(refresh_and_render, 9))

            step = [args.points]

            def add_rows() -> None:
                rows = [
                    MetricRow(step[0] + k, "total_loss", 0.5, None, T0 + 0.01 * (step[0] + k))
                    for k in range(1, 11)
                ]
                writer.add_metrics(run_id, rows)
                step[0] += 10

            def poll_new() -> None:
                add_rows()  # outside the clock: the trainer writes, the GUI polls
                start = time.perf_counter()
                changed = view.poll()
                new_times.append((time.perf_counter() - start) * 1000)
                assert changed

            new_times: list[float] = []
            for _ in range(args.repeats):
                poll_new()
            report("(b) poll, 10 new rows (read, append, setData)", _summary(new_times), 5)

            def poll_none() -> None:
                assert not view.poll()

            report("(b) poll, nothing new", timed(poll_none, 50), 5)

            def poll_and_render() -> None:
                add_rows()
                view.poll()
                view.graphics.grab()

            report("    10 new rows: poll + render (smoothing on)", timed(poll_and_render, 9))
            state.store.close()
            view.deleteLater()
            app.processEvents()


def _summary(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), max(times)


if __name__ == "__main__":
    main()
