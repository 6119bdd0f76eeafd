"""The README's pictures of the window at the paper's scale: the Monitor following a run of 24
tasks, the preflight line under Start (the Muppet GPU preset on a CPU) and the Help menu. The
run is made up (its metric rows are written directly: no training), the window is real.

Usage (from the checkout, with ../shared/data beside it; a real X server shows the menu):
    xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb \
        python docs/window_screenshots.py
Writes docs/monitor-24-tasks.png, docs/preflight.png and docs/help-menu.png.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
DATA = DOCS.parents[1] / "shared" / "data"
STEPS, EVERY, EVAL = 400, 5, 100


def made_up_run(store_path: Path, tasks: list[str], metrics: dict[str, str]) -> str:
    """A running 24-task run half-way through, with curves that look like training."""
    from studio.core.sink import MetricRow
    from studio.store import RunStore

    with RunStore(store_path) as store:
        run_id = store.create_run(
            "muppet recipe, 24 tasks", "pretrain", {"tasks": tasks, "max_length": 128},
            "minilm", max_steps=STEPS, status="running",
        )  # fmt: skip
        start, rows = time.time() - 600, []
        for step in range(1, STEPS // 2 + 1, EVERY):
            wall = start + 3 * step
            for i, task in enumerate(tasks):
                loss = 0.4 + 0.05 * i + 1.2 * math.exp(-step / (40 + 4 * i))
                rows += [MetricRow(step, "loss", loss, task, wall),
                         MetricRow(step, "share", (1 + i % 5) / 72, task, wall)]  # fmt: skip
                if step % EVAL == 1:
                    value = 0.5 + 0.3 * (1 - math.exp(-step / 120)) + 0.004 * i
                    rows.append(MetricRow(step, f"eval_{metrics[task]}", value, task, wall))
            rows += [
                MetricRow(step, "total_loss", 0.9 + 1.5 * math.exp(-step / 60), None, wall),
                MetricRow(step, "lr", 3e-5 * min(1.0, step / 24), None, wall),
                MetricRow(step, "grad_norm", 1.0 + 0.3 * math.sin(step / 7), None, wall),
                MetricRow(step, "examples_per_s", 150 + 10 * math.sin(step / 11), None, wall),
            ]
            if step % EVAL == 1:
                rows.append(MetricRow(step, "eval_mean", 0.55 + 0.25 * (1 - math.exp(-step / 120)),
                                      None, wall))  # fmt: skip
        store.add_metrics(run_id, rows)
        store.update_run(run_id, step=STEPS // 2)
    return run_id


def main() -> None:
    os.environ["STUDIO_HOME"] = tempfile.mkdtemp()  # a new user's home: no settings yet
    os.environ.setdefault("STUDIO_DATA_DIR", str(DATA))
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from studio.core import paths
    from studio.core.config import presets
    from studio.core.tasks.spec import studio_catalog
    from studio.ui import actions as A
    from studio.ui.main_window import MainWindow

    def settle(seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.02)

    catalog = studio_catalog(()).tasks
    tasks = [n for n, s in catalog.items() if s.family != "summarization"
             and not n.startswith("synth")][:24]  # fmt: skip
    run_id = made_up_run(paths.store_path(), tasks, {n: catalog[n].metric for n in tasks})
    window = MainWindow(catalog)
    window.show()
    settle(1.5)
    window.open_runs([run_id])
    settle(1.5)
    window.grab().save(str(DOCS / "monitor-24-tasks.png"))
    window.tabs.setCurrentWidget(window.form)
    window.checklist.set_checked(tasks[:16])
    window.form.preset_bar.device = "cpu"
    window.form.apply_preset(presets.MUPPET)
    settle(0.5)
    window.grab().save(str(DOCS / "preflight.png"))
    menu = next(m for m in window.menuBar().actions() if m.text() == "&Help").menu()
    menu.popup(window.mapToGlobal(window.menuBar().actionGeometry(menu.menuAction()).bottomLeft()))
    settle(0.5)
    shot = window.screen().grabWindow(0, window.x(), window.y(), 700, 260)
    shot.save(str(DOCS / "help-menu.png"))
    menu.close()
    window.menu_actions[A.GUIDE].trigger()  # the guide opens on the README's first section
    settle(0.5)
    window.close()


if __name__ == "__main__":
    main()
