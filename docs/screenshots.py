"""Regenerate the README's screenshots: two short real runs, then each tab of the window,
then the Add task wizard on a user's CSV and the Data tab.

Usage (from the checkout, with ../shared/data beside it):
    QT_QPA_PLATFORM=offscreen python docs/screenshots.py [--steps 40] [--store PATH] [--tasks]
Writes docs/<tab>.png and docs/wizard-*.png. Takes a few minutes on a CPU (MiniLM, 16 real
tasks). With --store, no training: the newest pre-finetuning runs and transfer experiment of
that store are shown. With --tasks, only the wizard and the Data tab (a fresh STUDIO_HOME).
With --first-hour, what a new user meets (a fresh STUDIO_HOME, no data folder): the quick-look
preset and the demo group, the Muppet recipe preset, the empty Monitor and Runs tabs, and a run
that failed on a bad record (docs/first-*.png). With --queue, three queued demo runs, the
window carrying on with the queue (docs/queue.png), and an HTML report of a finished run drawn
by a headless Chromium (docs/report.png; skipped without one).
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
    from studio.core.config.run import RunConfig
    from studio.core.tasks.spec import default_tasks_dir, load_catalog
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

    from studio.core.tasks.spec import default_tasks_dir, load_catalog
    from studio.ui.main_window import MainWindow

    app = QApplication([])
    settings = QSettings(str(store.parent / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(load_catalog(default_tasks_dir()), store, DATA, settings)
    window.resize(1500, 920)
    window.show()
    window.draft.apply(config_of(store, run_ids[0]))
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


def user_files(folder: Path) -> tuple[Path, Path]:
    """What a user brings: SICK pairs as a CSV with its own column names and string labels,
    and ARC questions as parquet with one column per choice and a letter for the answer."""
    import csv
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    names = json.loads((DATA / "sick" / "labels.json").read_text())
    pairs = folder / "sick_pairs.csv"
    with pairs.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["pair_ID", "sentence_A", "sentence_B", "entailment_judgment"])
        for i, line in enumerate((DATA / "sick" / "train.jsonl").open(encoding="utf-8")):
            rec = json.loads(line)
            writer.writerow([i, rec["text"], rec["text_pair"], names[rec["label"]].upper()])
    rows = [json.loads(line) for line in (DATA / "arc" / "train.jsonl").open(encoding="utf-8")]
    rows = [r for r in rows if len(r["choices"]) == 4]
    table = {"question": [r["question"] for r in rows]}
    for i, letter in enumerate("ABCD"):
        table[f"option_{letter}"] = [r["choices"][i] for r in rows]
    table["answer"] = ["ABCD"[r["label"]] for r in rows]
    quiz = folder / "science_quiz.parquet"
    pq.write_table(pa.table(table), quiz)
    return pairs, quiz


def grab_wizard(window, app) -> None:  # type: ignore[no-untyped-def]
    """Add the two user tasks through the wizard (grabbing its pages), then the Data tab."""
    import time

    def wait(done) -> None:  # type: ignore[no-untyped-def]
        end = time.time() + 300
        while not done() and time.time() < end:
            app.processEvents()
            time.sleep(0.02)

    pairs, quiz = user_files(Path(tempfile.mkdtemp()))
    add_task(window, pairs, wait, shots=True)
    add_task(window, quiz, wait, shots=False)
    window.tabs.setCurrentWidget(window.preview)
    window.form.set_config(window.form.config(["sick_pairs"]).replace(max_length=128))
    window.checklist._tree.setCurrentItem(window.checklist._items["sick_pairs"])
    wait(lambda: "First training batch" in window.preview.batch.toPlainText())
    window.grab().save(str(DOCS / "data.png"))


def add_task(window, path: Path, wait, shots: bool) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QWizard

    from studio.ui.wizard.pages import CHECK, COLUMNS, LABELS

    names = {COLUMNS: "columns", LABELS: "labels", CHECK: "check"}
    window.library.add_task()
    wizard = window.library.wizard
    wizard.page(0).train_file.setText(str(path))
    for page in range(1, CHECK + 1):
        wizard.next()
        wait(lambda page=page: wizard.currentId() == page)
        if page == CHECK:
            wait(lambda: wizard.report is not None)
        if shots and page in names:
            wizard.grab().save(str(DOCS / f"wizard-{names[page]}.png"))
    wizard.button(QWizard.WizardButton.FinishButton).click()
    wait(lambda: not wizard.isVisible())


def config_of(store: Path, run_id: str):  # type: ignore[no-untyped-def]
    from studio.core.config.run import config_from_dict
    from studio.store import RunStore

    with RunStore(store) as db:
        return config_from_dict(db.get_run(run_id)["config"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--store", help="show the runs of this store instead of training")
    parser.add_argument("--tasks", action="store_true", help="only the wizard and the Data tab")
    parser.add_argument("--first-hour", action="store_true", help="only the new user's views")
    parser.add_argument("--queue", action="store_true", help="only the queue and a report")
    args = parser.parse_args()
    if args.first_hour:
        first_hour()
        return
    if args.queue:
        queue_and_report()
        return
    if args.tasks:
        wizard_only()
        return
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
    wizard_only()


def wizard_only() -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio.core.tasks.spec import studio_catalog
    from studio.ui.main_window import MainWindow

    os.environ["STUDIO_HOME"] = tempfile.mkdtemp()  # a new user's library
    home = Path(os.environ["STUDIO_HOME"])
    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(home / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(studio_catalog().tasks, home / "studio.db", DATA, settings)
    window.resize(1500, 920)
    window.show()
    window.form.set_device_info("CPU: 2 cores")
    grab_wizard(window, app)
    window.close()


def first_hour() -> None:
    import json
    import time

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QMessageBox

    from studio.core.config.presets import MUPPET
    from studio.core.tasks.spec import studio_catalog
    from studio.ui.configure.checklist_rows import DEMO
    from studio.ui.main_window import MainWindow

    os.environ.pop("STUDIO_DATA_DIR", None)
    home = Path(tempfile.mkdtemp())
    os.environ["STUDIO_HOME"] = str(home)
    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(home / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(studio_catalog().tasks, home / "studio.db", None, settings)
    window.resize(1500, 920)
    window.show()
    window._probe_done_text("CPU: 2 cores")

    def settle(seconds: float = 0.3) -> None:
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.02)

    def shot(name: str) -> None:
        settle()
        window.grab().save(str(DOCS / f"first-{name}.png"))

    tree = window.checklist._tree
    tree.scrollToItem(window.checklist._families[DEMO])
    shot("start")  # quick look, no data: the banner and the demo group
    for name, tab in (("monitor", window.monitor), ("runs", window.runs)):
        window.show_tab(tab)
        shot(name)

    window.library.set_data_dir(DATA)
    window.tabs.setCurrentWidget(window.form)
    window.form.apply_preset(MUPPET)
    window.checklist.set_family_checked("commonsense", True)
    tree.scrollToItem(window.checklist._families[DEMO])
    shot("presets")

    # A run that fails on a bad record: where its reason shows.
    bad = home / "bad-data" / "copa"
    bad.mkdir(parents=True)
    good = {"context": "The man broke his toe.", "question": "cause", "label": 0,
            "choices": ["He dropped a hammer on his foot.", "He wore new shoes."]}  # fmt: skip
    lines = [json.dumps(good), json.dumps({**good, "label": 5})]
    (bad / "train.jsonl").write_text("\n".join(lines) + "\n")
    (bad / "validation.jsonl").write_text(lines[0] + "\n")
    window.library.set_data_dir(bad.parent)
    window.form.apply_preset(MUPPET)
    window.draft.apply(window.current_config().replace(tasks=("copa",), max_steps=10))
    window.run_actions.start_run()
    end = time.time() + 120
    while (window.jobs.training.running or not hasattr(window, "last_error")) and time.time() < end:
        settle(0.1)
    for box in window.findChildren(QMessageBox):
        box.close()
    window.show_tab(window.monitor)
    window.monitor.poll()
    shot("failed")
    window.close()


def queue_and_report() -> None:
    import shutil
    import subprocess
    import time

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio.core.config.presets import demo_config
    from studio.core.tasks.spec import studio_catalog
    from studio.queue import enqueue
    from studio.store.report_data import write_report
    from studio.ui.main_window import MainWindow

    home = Path(tempfile.mkdtemp())
    os.environ["STUDIO_HOME"] = str(home)
    store = home / "studio.db"
    catalog = studio_catalog().tasks
    for name, steps in (("demo: 60 updates", 60), ("demo: 80 updates", 80), ("demo: 40", 40)):
        enqueue(store, demo_config(catalog, steps=steps).replace(name=name))
    app = QApplication.instance() or QApplication([])
    window = MainWindow(
        catalog, store, None, QSettings(str(home / "s.ini"), QSettings.Format.IniFormat)
    )
    window.resize(1500, 920)
    window.show()
    window._probe_done_text("CPU: 2 cores")
    end = time.time() + 300
    while window.jobs.training.run_id is None and time.time() < end:
        app.processEvents()
        time.sleep(0.05)
    first = window.jobs.training.run_id
    while window.jobs.training.run_id == first and time.time() < end + 600:
        app.processEvents()  # the first finishes, the second starts: one of each state
        time.sleep(0.05)
    window.show_tab(window.runs)
    for _ in range(40):  # the Runs tab polls every 2 s: let it show the running one
        app.processEvents()
        time.sleep(0.1)
    window.grab().save(str(DOCS / "queue.png"))
    window.close()  # the running run stops (resumable); the last stays queued
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if first is None or chromium is None:
        return
    page = home / "report.html"
    write_report(store, first, page)
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--hide-scrollbars", "--window-size=1200,1500",
         f"--screenshot={DOCS / 'report.png'}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


if __name__ == "__main__":
    main()
