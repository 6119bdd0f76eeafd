"""Choosing what to export: best / latest / a step, and the target folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from studio.core.paths import export_target_problem
from studio.ui.state import StoreWatcher


class ExportDialog(QDialog):
    """Pick a checkpoint of `run_id` and an empty or new folder."""

    def __init__(self, watcher: StoreWatcher, run_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export checkpoint of {run_id}")
        store_path = watcher.path
        checkpoints = watcher.read(lambda store: store.checkpoints(run_id))
        self.choice = QComboBox()
        self.choice.addItem("best (highest mean validation metric)", "best")
        self.choice.addItem("latest", "latest")
        for row in checkpoints:
            mean = row["metrics"].get("eval_mean") if row["metrics"] else None
            label = f"update {row['step']}"
            label += f" — mean metric {mean:.4f}" if mean is not None else ""
            self.choice.addItem(label, str(row["step"]))
        self.choice.setToolTip("Which checkpoint to export; 'best' needs a validated one")
        default = Path(store_path).parent / "exports" / run_id
        self.path = QLineEdit(str(default))
        self.path.setToolTip(
            "A new or empty folder; it will hold the encoder, tokenizer, heads, "
            "the run config and a model card"
        )
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Export")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Checkpoint", self.choice)
        form.addRow("Folder", path_row)
        form.addRow(buttons)
        if not checkpoints:
            self.ok_button.setEnabled(False)
            self.choice.setEnabled(False)
            self.choice.setToolTip("This run has no checkpoint yet")
        self.resize(620, 140)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.path.text())
        if folder:
            self.path.setText(folder)

    def _accept(self) -> None:
        problem = self.problem()
        if problem:
            QMessageBox.warning(self, "Export", problem)
            return
        self.accept()

    def problem(self) -> str | None:
        """Why the chosen folder cannot be exported into (before any work starts), or None."""
        if not self.path.text().strip():
            return "Choose a folder to export into."
        return export_target_problem(self.folder())

    def which(self) -> str:
        return str(self.choice.currentData())

    def folder(self) -> Path:
        return Path(self.path.text().strip()).expanduser()
