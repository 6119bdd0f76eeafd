"""The left column both sections of the Ablation tab share (ablations, tuning studies): the
store's experiments of one kind, "Run … file…" and Stop, the progress bar and its label, the
line under them, and the timer that paces re-reading a running experiment.

The column knows nothing of what an experiment shows: a view composes it, fills it with
`load`, and listens to `picked` (a run chosen in the list) and `fileChosen` (a file to start).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.run_record import Run
from studio.ui.file_dialogs import open_file
from studio.ui.state import StudioState
from studio.ui.style import GREY, STATUS_COLOURS, coloured
from studio.ui.text import date_time
from studio.ui.widgets import hbox, never_widens

log = logging.getLogger(__name__)

POLL_MS = 3000  # how often a running experiment's results are read again


class ExperimentList(QWidget):
    """This store's runs of one `kind`, newest first, with the buttons that start and stop one.

    `buttons` go above Run/Stop and, like Run, are enabled only while nothing runs.
    """

    picked = Signal(str)  # the id of the run chosen in the list
    fileChosen = Signal(object)  # the Path of the file "Run … file…" picked
    stopRequested = Signal()

    def __init__(
        self,
        state: StudioState,
        kind: str,
        heading: str,
        run: tuple[str, str],  # the run button's text and tooltip
        stop_tip: str,
        dialog: str,  # the file dialog's caption
        buttons: Sequence[QPushButton] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.kind, self.dialog, self.buttons = state, kind, dialog, tuple(buttons)
        self.running = False
        self.last_message = ""  # the latest note or error under the buttons, as plain text
        self.list = QListWidget()
        self.list.currentItemChanged.connect(self._on_pick)
        self.run_button = QPushButton(run[0])
        self.run_button.setToolTip(run[1])
        self.run_button.clicked.connect(self.choose_file)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(stop_tip)
        self.stop_button.clicked.connect(self.stopRequested.emit)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress_label = QLabel("idle")
        never_widens(self.progress_label)
        self.message = QLabel()
        never_widens(self.message)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        column = QVBoxLayout(self)
        column.addWidget(QLabel(heading))
        column.addWidget(self.list, 1)
        for button in self.buttons:
            column.addWidget(button)
        column.addLayout(hbox(self.run_button, self.stop_button))
        for widget in (self.progress, self.progress_label, self.message):
            column.addWidget(widget)
        self.timer = QTimer(self)  # a re-read at most every POLL_MS while one is going
        self.timer.setInterval(POLL_MS)
        self.timer.setSingleShot(True)

    def load(self, current: str | None) -> list[Run]:
        """List the store's runs of this kind, newest first, `current` selected; the runs."""
        try:
            runs = self.state.store.read(lambda store: store.list_runs(self.kind))
        except StudioError as exc:
            log.warning("%s list: %s", self.kind, exc)
            runs = []
        self.list.blockSignals(True)
        self.list.clear()
        for run in runs:
            item = QListWidgetItem(f"{run.name}  ·  {run.status}")
            item.setToolTip(f"{run.id}, created {date_time(run.created)}")
            item.setData(Qt.ItemDataRole.UserRole, run.id)
            item.setForeground(QColor(STATUS_COLOURS.get(run.status, GREY)))
            self.list.addItem(item)
            if run.id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        return runs

    def select(self, run_id: str) -> None:
        """Mark the run shown in the list, without `picked`."""
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == run_id:
                self.list.blockSignals(True)
                self.list.setCurrentRow(i)
                self.list.blockSignals(False)

    def set_running(self, running: bool) -> None:
        self.running = running
        self.run_button.setEnabled(not running)
        for button in self.buttons:
            button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if not running:
            self.progress.setValue(0)
            self.progress_label.setText("idle")

    def set_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(1000 * fraction))
        self.progress_label.setText(message)

    def choose_file(self) -> None:
        path = open_file(self, "config", self.dialog, "YAML (*.yaml *.yml)")
        if path:
            self.fileChosen.emit(Path(path))

    def note(self, text: str, colour: str | None = None) -> None:
        """The line under the buttons: what was last started, how it ended, or an error."""
        self.last_message = text
        self.message.setText(coloured(html.escape(text), colour) if colour else html.escape(text))

    def due(self) -> bool:
        """Whether a store tick may re-read the shown experiment: at most once every POLL_MS."""
        if self.timer.isActive():
            return False
        self.timer.start()
        return True

    def _on_pick(self, item: QListWidgetItem | None, _: object = None) -> None:
        if item is not None:
            self.picked.emit(str(item.data(Qt.ItemDataRole.UserRole)))
