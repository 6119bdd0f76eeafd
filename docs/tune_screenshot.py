"""The README's picture of the Ablation tab's Tuning studies section, on a store where a real
`tune` study ran (e.g. the six-trial study of the README's Tuning section).

Usage: STUDIO_HOME=HOME QT_QPA_PLATFORM=offscreen python docs/tune_screenshot.py STUDY_RUN_ID
Writes docs/tune.png.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def main() -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from studio.core.tasks.spec import studio_catalog
    from studio.ui.main_window import MainWindow

    window = MainWindow(studio_catalog(()).tasks)
    window.resize(1536, 920)
    window.show()
    window.show_tab(window.ablation)
    window.ablation.sections.setCurrentWidget(window.ablation.tune)
    window.ablation.tune.show_study(sys.argv[1])
    end = time.time() + 2.0
    while time.time() < end:
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(DOCS / "tune.png"))
    window.close()


if __name__ == "__main__":
    main()
