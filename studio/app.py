"""The desktop studio's composition root: `python main.py` or the `muppet-studio` command.

Nothing here imports torch, transformers or datasets: the window must open fast, and training
runs in child processes (studio.jobs) that the window's workers start.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import cast


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="muppet-studio", description="Muppet Studio")
    parser.add_argument("--store", help="run store file (default: STUDIO_HOME/studio.db)")
    parser.add_argument("--data-dir", help="folder of local task data (default: STUDIO_DATA_DIR)")
    parser.add_argument(
        "--tasks-dir",
        action="append",
        default=[],
        help="another folder of your own task specs (repeatable; also STUDIO_TASKS_DIR)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="open the window, save a picture of it to PNG once it has settled, and quit",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from studio.core import paths
    from studio.core.errors import StudioError
    from studio.core.tasks.spec import studio_catalog
    from studio.ui.icons import app_icon
    from studio.ui.main_window import MainWindow
    from studio.ui.store_dialog import usable_store

    # cast: PySide6's stubs give QApplication.instance() QCoreApplication's return type.
    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv[:1]))
    app.setApplicationName("Muppet Studio")
    app.setOrganizationName("MuppetStudio")
    app.setWindowIcon(app_icon())
    try:
        catalog = studio_catalog(args.tasks_dir)
    except StudioError as exc:
        QMessageBox.critical(
            None,
            "Muppet Studio cannot start",
            f"The task catalog is broken:\n\n{exc}\n\nFix or remove that file and start again.",
        )
        return 1
    store = usable_store(Path(args.store) if args.store else paths.store_path())
    if store is None:
        return 1
    window = MainWindow(
        catalog.tasks,
        store,
        Path(args.data_dir) if args.data_dir else None,
        tasks_dirs=tuple(args.tasks_dir),
        problems=catalog.problems,
    )
    window.show()
    # SIGTERM (a logout, `kill PID`) closes the window like its close button: running jobs
    # save a checkpoint and stop. The timer lets Python's handler run while Qt waits.
    signal.signal(signal.SIGTERM, lambda signum, frame: window.close())
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(250)
    if args.screenshot:
        QTimer.singleShot(1500, lambda: (window.grab().save(args.screenshot), window.close()))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
