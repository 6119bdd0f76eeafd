"""The task checklist's banner while no real dataset is available: what to do next."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout

from studio.ui.widgets import hbox


class NoDataBanner(QFrame):
    """Point the studio at data, add a task, or try the demo now."""

    demoRequested = Signal()
    dataFolderRequested = Signal()
    addRequested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("noData")
        self.setStyleSheet(
            "QFrame#noData { background: #EEF4FF; border: 1px solid #9DB7E8; border-radius: 4px; }"
        )
        text = QLabel(
            "<b>No real dataset found yet.</b> Point the studio at a data folder, add a task of "
            "your own, or try a one-minute run on the synthetic demo tasks."
        )
        text.setWordWrap(True)
        demo = QPushButton("Try the demo")
        demo.setToolTip("Train briefly on the synthetic demo tasks and watch the live curves.")
        demo.clicked.connect(self.demoRequested)
        folder = QPushButton("Data folder…")
        folder.setToolTip("Choose the folder that holds the datasets (one sub-folder per task).")
        folder.clicked.connect(self.dataFolderRequested)
        add = QPushButton("Add a task…")
        add.clicked.connect(self.addRequested)
        buttons = hbox(demo, folder, add)
        buttons.addStretch(1)
        box = QVBoxLayout(self)
        box.addWidget(text)
        box.addLayout(buttons)
