"""docs/playground.png: the Playground on a short demo run (synthetic tasks, CPU, about two
minutes), a span question answered by the real predict job with its answer marked.

    QT_QPA_PLATFORM=offscreen python docs/playground_screenshot.py
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
CONTEXT = (
    "The harbour museum in Bergen opened in 1902 and keeps three old ships, a lighthouse lens "
    "and the logbooks of the fishing fleet."
)


def train(store: Path) -> str:
    from studio.core.config import presets
    from studio.core.tasks.spec import default_tasks_dir, load_catalog
    from studio.session import execute

    catalog = load_catalog(default_tasks_dir())
    config = presets.demo_config(catalog, 20)
    outcome = execute(config, catalog, None, store, threading.Event())
    assert outcome.status == "finished", outcome.error
    return outcome.run_id


def main() -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio.core.tasks.spec import default_tasks_dir, load_catalog
    from studio.ui.main_window import MainWindow

    folder = Path(tempfile.mkdtemp(prefix="playground-shot-"))
    store = folder / "studio.db"
    run_id = train(store)
    app = QApplication([])
    settings = QSettings(str(folder / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(load_catalog(default_tasks_dir()), store, None, settings)
    window.resize(1500, 920)
    window.show()
    view = window.playground
    window.show_tab(view)
    view.set_model(run_id)
    view.kind.setCurrentIndex(view.kind.findData("context"))  # every head that takes it
    view.text.setText("When did the museum open?")
    view.context.setPlainText(CONTEXT)
    view.predict.click()
    deadline = time.monotonic() + 120
    while not view.predict.isEnabled() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    for _ in range(20):
        app.processEvents()
    window.grab().save(str(DOCS / "playground.png"))
    window.close()


if __name__ == "__main__":
    main()
