"""The window starts without the heavy libraries: they load only in the job processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("torch", "transformers", "datasets", "accelerate", "sklearn")
SCRIPT = """
import importlib, json, pkgutil, sys
import studio.app, studio.ui
for module in pkgutil.iter_modules(studio.ui.__path__, "studio.ui."):
    importlib.import_module(module.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


def test_importing_every_window_module_loads_no_heavy_library() -> None:
    # A fresh interpreter: this one has long imported torch for other tests.
    said = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=set(HEAVY))],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout.strip().splitlines()[-1]) == []


# Loaded after the window shows: the job protocol with the first job (a sixth of the start-up
# was its frozen dataclasses), sqlite-utils with the first store write, and the Monitor,
# Runs, Transfer, Ablation and Playground tabs when first opened.
LATER = (
    "studio.core.jobs",
    "sqlite_utils",
    "studio.ui.monitor.view",
    "studio.ui.runs.view",
    "studio.ui.transfer.view",
    "studio.ui.ablation.view",
    "studio.ui.playground.view",
)
WINDOW = """
import json, sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from studio.core.tasks.spec import studio_catalog
from studio.ui.main_window import MainWindow
from studio.ui.store_dialog import usable_store
app = QApplication([])
catalog = studio_catalog([])
window = MainWindow(catalog.tasks, usable_store(Path(sys.argv[1])), problems=catalog.problems)
window.show()
app.processEvents()
shown = sorted(m for m in {later} if m in sys.modules)
window.show_tab(window.runs)
app.processEvents()
runs = window.tabs.currentWidget().findChild(type(window.runs)) is window.runs
print(json.dumps({{"shown": shown, "runs": runs, "store": Path(sys.argv[1]).exists()}}))
window.close()
"""


def test_the_window_shows_before_loading_what_it_needs_only_later(tmp_path) -> None:
    said = subprocess.run(
        [sys.executable, "-c", WINDOW.format(later=set(LATER)), str(tmp_path / "studio.db")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": str(tmp_path)},
    )
    assert said.returncode == 0, said.stderr
    seen = json.loads(said.stdout.strip().splitlines()[-1])
    assert seen["shown"] == []
    assert seen["runs"], "opening the Runs tab builds its view inside the tab"
    assert seen["store"], "the Runs tab reads the store, which is then made"
