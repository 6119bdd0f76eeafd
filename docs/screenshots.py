"""Regenerate the README's screenshots: two short real runs, then each tab of the window.

Usage (from the checkout, with ../shared/data beside it):
    QT_QPA_PLATFORM=offscreen python docs/screenshots.py [--steps 40] [--store PATH]
Writes docs/<tab>.png. Takes a few minutes on a CPU (MiniLM, 16 real tasks). With --store, no
training: the newest pre-finetuning runs and transfer experiment of that store are shown.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from pathlib import Path

DOCS = Path(__file__).resolve().parent
DATA = DOCS.parents[1] / "shared" / "data"
TASKS = (
    "sst2",
    "rte",
    "mrpc",
    "cola",
    "trec",
    "ag_news",
    "boolq",
    "snli",
    "tweet_irony",
    "copa",
    "piqa",
    "social_i_qa",
    "commonsense_qa",
    "hellaswag",
    "squad_v1",
    "subjqa",
)


def train_runs(store: Path, steps: int) -> list[str]:
    from studio.core.config import RunConfig
    from studio.core.tasks import default_tasks_dir, load_catalog
    from studio.session import execute

    catalog = load_catalog(default_tasks_dir())
    ids = []
    for mixing in ("heterogeneous", "homogeneous"):
        config = RunConfig(
            tasks=TASKS,
            name=f"16 tasks, {mixing}",
            mixing=mixing,
            max_steps=steps,
            eval_every=steps // 4,
            log_every=2,
            checkpoint_every=steps // 2,
            batch_size=8,
            max_length=128,
            eval_max_examples=60,
            device="cpu",
            learning_rate=1e-4,
        )
        outcome = execute(config, catalog, DATA, store, threading.Event())
        ids.append(outcome.run_id)
    return ids


def grab_tabs(store: Path, run_ids: list[str]) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio.core.tasks import default_tasks_dir, load_catalog
    from studio.ui.main_window import MainWindow

    app = QApplication([])
    settings = QSettings(str(store.parent / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(load_catalog(default_tasks_dir()), store, DATA, settings)
    window.resize(1500, 920)
    window.show()
    window._apply_config(config_of(store, run_ids[0]))
    window.form.set_device_info("CPU: 2 cores")
    window.open_runs(run_ids[:1])
    for _ in range(20):
        app.processEvents()
    transfers = [r["id"] for r in window.runs.runs.values() if r["kind"] == "transfer"]
    if transfers:
        window.transfer.refresh()
        window.transfer.show_transfer(transfers[0])
    for name in ("Configure", "Monitor", "Runs", "Transfer"):
        for i in range(window.tabs.count()):
            if window.tabs.tabText(i) == name:
                window.tabs.setCurrentIndex(i)
        if name == "Transfer" and not transfers:
            continue
        if name == "Runs":
            window.runs.refresh()
            window.runs.select(run_ids)
        for _ in range(10):
            app.processEvents()
        window.grab().save(str(DOCS / f"{name.lower()}.png"))
    window.open_runs(run_ids)
    for _ in range(10):
        app.processEvents()
    window.grab().save(str(DOCS / "overlay.png"))
    window.close()


def config_of(store: Path, run_id: str):  # type: ignore[no-untyped-def]
    from studio.core.config import config_from_dict
    from studio.store import RunStore

    with RunStore(store) as db:
        return config_from_dict(db.get_run(run_id)["config"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--store", help="show the runs of this store instead of training")
    args = parser.parse_args()
    if args.store:
        from studio.store import RunStore

        store = Path(args.store)
        with RunStore(store) as db:
            run_ids = [r["id"] for r in db.list_runs(kind="pretrain")][:2]
    else:
        os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp())
        store = Path(os.environ["STUDIO_HOME"]) / "studio.db"
        run_ids = train_runs(store, args.steps)
    grab_tabs(store, run_ids)


if __name__ == "__main__":
    main()
