"""The README's pictures of finding and comparing runs: the Runs tab's filter bar with tag
chips and its right-click menu, and the Compare view's three tabs, on a store of made-up runs
(no training: the runs, their validation rows, tags, notes and a manifest are written directly).

Usage (from the checkout):
    QT_QPA_PLATFORM=offscreen python docs/runs_screenshots.py
Writes docs/runs-filters.png, docs/runs-menu.png and docs/compare-{metrics,config,parallel}.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
RUNS = (  # name, learning rate, temperature, tasks per update, final mean, tags
    ("muppet, 16 tasks, log-n", 3e-5, 2.0, 8, 0.712, ("paper", "log-n")),
    ("muppet, 16 tasks, uniform", 3e-5, 2.0, 8, 0.694, ("paper",)),
    ("lr sweep 1e-4", 1e-4, 1.0, 4, 0.651, ("lr-sweep",)),
    ("lr sweep 5e-5", 5e-5, 1.0, 4, 0.688, ("lr-sweep",)),
    ("quick look", 5e-5, 1.0, 2, 0.583, ()),
)
TASKS = ("rte", "sst2", "copa", "boolq")


def fill(store_path: Path) -> list[str]:
    from studio.core.manifest import Manifest, TaskData
    from studio.core.sink import MetricRow
    from studio.store import RunStore

    ids = []
    with RunStore(store_path) as store:
        for i, (name, lr, temperature, slots, mean, tags) in enumerate(RUNS):
            config = {"tasks": list(TASKS), "learning_rate": lr, "temperature": temperature,
                      "tasks_per_update": slots, "loss_scaling": "log_n" if i == 0 else
                      "uniform", "seed": 1, "max_steps": 2000}  # fmt: skip
            run_id = store.create_run(name, "pretrain", config, "nreimers/MiniLM-L6-H384-uncased",
                                      status="finished" if i != 2 else "stopped")  # fmt: skip
            rows = [MetricRow(s, "eval_mean", mean - 0.1 * (2000 - s) / 2000) for s in (500, 2000)]
            for j, task in enumerate(TASKS):
                value = mean + 0.04 * ((i + j) % 3 - 1)
                rows += [MetricRow(1000, "eval_accuracy", value + 0.01 * (i % 2), task),
                         MetricRow(2000, "eval_accuracy", value, task)]  # fmt: skip
            store.add_metrics(run_id, rows)
            store.tag(run_id, tags)
            store.update_run(run_id, step=2000 if i != 2 else 1200, max_steps=2000)
            ids.append(run_id)
        store.set_starred(ids[0])
        store.set_notes(ids[0], "The paper's recipe: log-n loss scaling, 8 tasks per update.")
        data = {t: TaskData("local", f"sha1:{abs(hash(t)) % 16**12:012x}") for t in TASKS}
        store.add_manifest(ids[0], Manifest(
            "0.1.0", "3.11.9", {"torch": "2.5.1", "transformers": "4.46.3", "datasets": "3.1.0",
            "accelerate": "1.1.1"}, "Linux-6.8-x86_64", "cuda:0 (bf16 precision)", 1, {},
            data, git_commit="5292eb7", git_dirty=False, device_name="NVIDIA H100 80GB HBM3",
            cuda="12.4", driver="550.90.07", precision="bf16"))  # fmt: skip
    return ids


def main() -> None:
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    from studio.ui.runs.view import RunsView
    from studio.ui.state import StudioState

    app = QApplication.instance() or QApplication([])
    store_path = Path(tempfile.mkdtemp()) / "studio.db"
    ids = fill(store_path)
    state = StudioState({}, store_path)
    view = RunsView(state.store)
    view.resize(1250, 640)
    view.show()
    view.filters.chips.chips["paper"].click()
    view.select([ids[0]])
    for _ in range(5):
        app.processEvents()
    view.grab().save(str(DOCS / "runs-filters.png"))
    menu = view.context_menu()
    menu.popup(view.mapToGlobal(QPoint(200, 200)))
    for _ in range(5):
        app.processEvents()
    menu.grab().save(str(DOCS / "runs-menu.png"))
    menu.close()
    view.filters.chips.chips["paper"].click()
    view.table.clearSelection()
    view.select(ids[:4])
    compare = view.compare_view()
    assert compare is not None
    compare.resize(1150, 480)
    compare.show()
    for index, name in enumerate(("metrics", "config", "parallel")):
        compare.tabs.setCurrentIndex(index)
        for _ in range(5):
            app.processEvents()
        compare.grab().save(str(DOCS / f"compare-{name}.png"))


if __name__ == "__main__":
    main()
