"""The Add task wizard's first page: where the data is (files, a saved folder, a hub dataset)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from studio.core.errors import StudioError
from studio.core.importing.plan import SourceRef
from studio.core.jobs import InspectRequest, InspectResult
from studio.ui.style import RED
from studio.ui.widgets import never_widens
from studio.ui.wizard.pages import host, note

FILE_FILTER = "Data files (*.csv *.tsv *.tab *.json *.jsonl *.ndjson *.parquet *.pq);;All (*)"
ERROR_STYLE = f"color: {RED};"


class SourcePage(QWizardPage):
    """Where the data is: files, a folder, or a hub dataset."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Source")
        self.setSubTitle(
            "Pick your data: one file (a validation set is carved from it) or one per split, "
            "a folder saved by datasets, or a dataset on the Hugging Face hub."
        )
        self.kinds = QButtonGroup(self)
        self.stack = QStackedWidget()
        radios = QHBoxLayout()
        for index, (kind, text) in enumerate(
            (("files", "File(s)"), ("folder", "Folder"), ("hub", "Hugging Face hub"))
        ):
            radio = QRadioButton(text)
            radio.setObjectName(kind)
            self.kinds.addButton(radio, index)
            radios.addWidget(radio)
        radios.addStretch(1)
        self.kinds.idToggled.connect(self._kind_toggled)
        self.train_file, self.validation_file = QLineEdit(), QLineEdit()
        self.train_file.setPlaceholderText("CSV, TSV, JSON/JSONL or Parquet")
        self.validation_file.setPlaceholderText("optional: a second file for validation")
        files = QFormLayout()
        files.addRow("Data (train) file", _browse_row(self.train_file, self._pick_file))
        files.addRow("Validation file", _browse_row(self.validation_file, self._pick_file))
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("written by save_to_disk, or holding one file per split")
        folder = QFormLayout()
        folder.addRow("Folder", _browse_row(self.folder, self._pick_folder))
        self.hub_id, self.hub_config = QLineEdit(), QLineEdit()
        self.hub_revision, self.hub_data_dir = QLineEdit(), QLineEdit()
        self.hub_id.setPlaceholderText("owner/name, e.g. stanfordnlp/imdb")
        self.hub_config.setPlaceholderText("optional: config (subset) name")
        self.hub_revision.setPlaceholderText(
            "optional: branch, tag, commit or refs/convert/parquet"
        )
        self.hub_data_dir.setPlaceholderText("optional: a folder of the repository, e.g. default")
        hub = QFormLayout()
        hub.addRow("Dataset id", self.hub_id)
        hub.addRow("Config", self.hub_config)
        hub.addRow("Revision", self.hub_revision)
        hub.addRow("Folder in the repository", self.hub_data_dir)
        hub.addRow(
            note(
                "Loaded offline from the Hugging Face cache when it is there. A repository with a "
                "loading script loads through its parquet export: revision refs/convert/parquet, "
                "with the config's folder (e.g. default) as the folder in the repository."
            )
        )
        for form in (files, folder, hub):
            holder = QWidget()
            holder.setLayout(form)
            self.stack.addWidget(holder)
        self.status = QLabel()
        never_widens(self.status)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(radios)
        layout.addWidget(self.stack)
        layout.addStretch(1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.kinds.button(0).setChecked(True)

    def _kind_toggled(self, index: int, on: bool) -> None:
        if on:
            self.stack.setCurrentIndex(index)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        plan = host(self).initial
        if plan is None or host(self).table is not None:
            return
        ref = plan.source
        self.kinds.button(("files", "folder", "hub").index(ref.kind)).setChecked(True)
        if ref.kind == "files":
            self.train_file.setText(ref.path)
            self.validation_file.setText(ref.validation or "")
        elif ref.kind == "folder":
            self.folder.setText(ref.path)
        else:
            self.hub_id.setText(ref.path)
            self.hub_config.setText(ref.config or "")
            self.hub_revision.setText(ref.revision or "")
            self.hub_data_dir.setText(ref.data_dir or "")

    def source(self) -> SourceRef:
        checked = self.kinds.checkedButton()
        assert checked is not None, "the group is exclusive and starts with Files checked"
        kind = checked.objectName()
        if kind == "files":
            return SourceRef(
                "files",
                self.train_file.text().strip(),
                validation=self.validation_file.text().strip() or None,
            )
        if kind == "folder":
            return SourceRef("folder", self.folder.text().strip())
        return SourceRef(
            "hub",
            self.hub_id.text().strip(),
            config=self.hub_config.text().strip() or None,
            revision=self.hub_revision.text().strip() or None,
            data_dir=self.hub_data_dir.text().strip() or None,
        )

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        wizard = host(self)
        if wizard.busy:
            return False
        try:
            ref = self.source()
        except StudioError as exc:
            self._fail(str(exc))
            return False
        if wizard.table is not None and _same_source(wizard.table.source, ref):
            return True
        self.status.setStyleSheet("")
        self.status.setText(f"Reading {ref.describe()}…")
        self.progress.show()
        wizard.run(InspectRequest(ref), self._inspected, self._fail)
        return False

    def _inspected(self, result: InspectResult) -> None:
        self.progress.hide()
        self.status.setText("")
        wizard = host(self)
        table = result.table
        try:
            still = _same_source(table.source, self.source())
        except StudioError:
            still = False
        if not still:  # the user typed another source meanwhile
            return
        wizard.table = table
        wizard.draft = {}
        wizard.next()

    def _fail(self, error: str) -> None:
        self.progress.hide()
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(error.partition("\n\n")[0])

    def _pick_file(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Data file", edit.text(), FILE_FILTER)
        if path:
            edit.setText(path)

    def _pick_folder(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", edit.text())
        if folder:
            edit.setText(folder)


def _same_source(a: SourceRef, b: SourceRef) -> bool:
    keys = ("kind", "path", "validation", "config", "revision", "data_dir")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _browse_row(edit: QLineEdit, pick: Callable[[QLineEdit], None]) -> QHBoxLayout:
    button = QPushButton("Browse…")
    button.clicked.connect(lambda: pick(edit))
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row
