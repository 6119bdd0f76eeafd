"""The Add task wizard's pages after Columns: splits, labels and the task's details; and what
every page shares.

Each page reads and writes the wizard's `draft` (the ImportPlan's fields); the guesses come
from `studio.core.importing.mapping`, the same functions `task add` uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, cast

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from studio.core.errors import StudioError
from studio.core.importing.guessing import (
    check_label_column,
    default_validation_split,
    draft_fields,
    not_labels,
    used_splits,
)
from studio.core.importing.plan import (
    CHOICE_LABEL_HELP,
    CHOICE_LABELS,
    DEFAULT_FAMILY,
    ImportPlan,
    SourceTable,
    check_name,
    suggest_name,
)
from studio.core.jobs import JobRequest
from studio.core.tasks import library
from studio.core.tasks.formats import FAMILIES, LABELLED_FORMATS, METRICS
from studio.core.tasks.spec import TaskSpec
from studio.ui.style import RED

SOURCE, COLUMNS, SPLITS, LABELS, DETAILS, CHECK = range(6)
CARVE = "(carve from train)"


def note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #555555;")
    return label


class WizardHost(Protocol):
    """What the pages use of the task wizard (so no page imports the wizard itself)."""

    catalog: dict[str, TaskSpec]
    editing: TaskSpec | None
    initial: ImportPlan | None
    table: SourceTable | None
    draft: dict[str, Any]

    @property
    def busy(self) -> bool: ...

    def run(
        self,
        request: JobRequest,
        on_result: Callable[[Any], None],
        on_error: Callable[[str], None],
    ) -> None: ...

    def next(self) -> None: ...

    def plan(self) -> ImportPlan: ...


def host(page: QWizardPage) -> WizardHost:
    return cast(WizardHost, page.wizard())


class Page(QWizardPage):
    """A wizard page with typed access to the wizard's table and draft."""

    @property
    def table(self) -> SourceTable:
        table = host(self).table
        assert table is not None
        return table

    @property
    def draft(self) -> dict[str, Any]:
        return host(self).draft

    @property
    def initial(self) -> ImportPlan | None:
        return host(self).initial


def refuse(page: QWizardPage, text: str) -> bool:
    from PySide6.QtWidgets import QMessageBox

    QMessageBox.warning(page, page.title(), text)
    return False


class SplitsPage(Page):
    """Which split trains and which validates, or a seeded share of train for validation."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Splits")
        self.setSubTitle("Training and validation data.")
        self.train = QComboBox()
        self.validation = QComboBox()
        self.validation.currentIndexChanged.connect(self._carving_changed)
        self.fraction = QDoubleSpinBox()
        self.fraction.setRange(0.01, 0.5)
        self.fraction.setSingleStep(0.05)
        self.fraction.setValue(0.1)
        self.fraction.setToolTip("Share of the training rows held out for validation")
        self.fraction.valueChanged.connect(self._carving_changed)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(13)
        self.seed.setToolTip("The held-out rows are drawn with this seed: the same every time")
        self.explain = note("")
        form = QFormLayout(self)
        form.addRow("Train on", self.train)
        form.addRow("Validate on", self.validation)
        form.addRow("Validation share", self.fraction)
        form.addRow("Seed", self.seed)
        form.addRow(self.explain)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        table, plan = self.table, self.initial
        source = self.draft.get("source") or (plan.source if plan else table.source)
        splits = list(table.splits)
        for combo in (self.train, self.validation):
            combo.blockSignals(True)
            combo.clear()
        for split in splits:
            self.train.addItem(f"{split} ({table.splits[split]:,} rows)", split)
            self.validation.addItem(f"{split} ({table.splits[split]:,} rows)", split)
        self.validation.addItem(CARVE, "")
        train = source.train_split if source.train_split in splits else splits[0]
        self.train.setCurrentIndex(self.train.findData(train))
        if source.kind == "files":
            validation = "validation" if "validation" in splits else ""
        elif self.draft.get("source") is not None or plan is not None:
            validation = source.validation_split if source.validation_split in splits else ""
        else:
            validation = default_validation_split(splits) or ""
        self.validation.setCurrentIndex(self.validation.findData(validation))
        for combo in (self.train, self.validation):
            combo.blockSignals(False)
        files = source.kind == "files"
        self.train.setEnabled(not files)
        self.validation.setEnabled(not files)
        fraction = self.draft.get("validation_fraction") or (
            plan.validation_fraction if plan else 0.1
        )
        self.fraction.setValue(fraction)
        self.seed.setValue(self.draft.get("seed", plan.seed if plan else 13))
        self._carving_changed()

    def _carving_changed(self) -> None:
        carve = not self.validation.currentData()
        self.fraction.setEnabled(carve)
        self.seed.setEnabled(carve)
        share = f"{self.fraction.value():.0%}"
        self.explain.setText(
            f"{share} of the training rows, drawn with the seed, become the validation set."
            if carve
            else "The validation split is used as it is."
        )

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        from dataclasses import replace

        train, validation = self.train.currentData(), self.validation.currentData() or None
        if train == validation:
            return refuse(self, "Train and validate on different splits.")
        source = self.table.source
        if source.kind != "files":
            source = replace(source, train_split=train, validation_split=validation)
        self.draft.update(
            source=source, validation_fraction=self.fraction.value(), seed=self.seed.value()
        )
        return True

    def nextId(self) -> int:  # noqa: N802 - Qt's name
        fmt = self.draft.get("format")
        return LABELS if fmt in (*LABELLED_FORMATS, "regression", "multiple_choice") else DETAILS


class LabelsPage(Page):
    """The label column's values with their counts: rename, reorder; or how a multiple-choice
    label names the right choice."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Labels")
        self.labels = QTableWidget(0, 3)
        self.labels.setHorizontalHeaderLabels(["Value in the data", "Rows", "Label name"])
        header = self.labels.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.labels.verticalHeader().hide()
        up, down = QPushButton("Move up"), QPushButton("Move down")
        up.clicked.connect(lambda: self._move(-1))
        down.clicked.connect(lambda: self._move(1))
        self.buttons = QWidget()
        row = QHBoxLayout(self.buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(up)
        row.addWidget(down)
        row.addStretch(1)
        self.kind = QComboBox()
        for kind in CHOICE_LABELS:
            self.kind.addItem(f"{kind} — {CHOICE_LABEL_HELP[kind]}", kind)
        self.kind_row = QWidget()
        kind_form = QFormLayout(self.kind_row)
        kind_form.setContentsMargins(0, 0, 0, 0)
        kind_form.addRow("The label gives", self.kind)
        self.explain = note("")
        self.not_labels: str | None = None  # why the label column holds no labels
        layout = QVBoxLayout(self)
        layout.addWidget(self.explain)
        layout.addWidget(self.kind_row)
        layout.addWidget(self.labels, 1)
        layout.addWidget(self.buttons)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        fmt, columns = self.draft["format"], self.draft["columns"]
        column = columns["label"][0] if columns.get("label") else None
        table = dataclasses.replace(self.table, source=self.draft["source"])
        counts = table.value_counts(column, used_splits(table.source)) if column else {}
        self.kind_row.setVisible(fmt == "multiple_choice")
        self.labels.setVisible(fmt != "regression")
        self.buttons.setVisible(fmt in LABELLED_FORMATS)
        if fmt == "regression":
            self.setSubTitle(f"Column '{column}' holds numbers: each row's number is its target.")
            self.explain.setText("Rows whose label is blank or not a number are listed later.")
            return
        blanks, unlabelled = counts.pop("", 0), counts.pop("-1", 0)
        guess = draft_fields(table, fmt, columns)
        if fmt == "multiple_choice":
            kind = self.draft.get("choice_label") or guess["choice_label"]
            self.kind.setCurrentIndex(self.kind.findData(kind))
            self.setSubTitle(f"Column '{column}' names the right choice.")
            self._fill([(v, n, v) for v, n in sorted(counts.items())], editable=False)
        else:
            values = guess["label_values"]
            names = guess["labels"] or values
            rows = self._keep_edits(list(zip(values, names, strict=True)))
            self._fill([(v, counts.get(v, 0), n) for v, n in rows], editable=True)
            self.not_labels = None if values else not_labels(table, column or "")
            self.setSubTitle(
                f"{self.not_labels[0].upper()}{self.not_labels[1:]}."
                if self.not_labels
                else f"Column '{column}' has {len(values)} values. Rename them, or move them "
                "to set the label order (index 0 first)."
            )
        notes = []
        if blanks:
            notes.append(f"{blanks:,} row(s) have a blank label; they are listed on the last page.")
        if unlabelled:
            notes.append(f"{unlabelled:,} row(s) have no gold label (-1); they are left out.")
        labelled = column is not None and fmt in LABELLED_FORMATS
        warning = check_label_column(table, column or "").warning if labelled else None
        if warning:
            notes.append(f"{warning[0].upper()}{warning[1:]}.")
        self.explain.setText(" ".join(notes))

    def _keep_edits(self, inferred: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The user's order and names (or the edited plan's) for values still present."""
        values = self.draft.get("label_values") or (
            self.initial.label_values if self.initial else ()
        )
        names = self.draft.get("labels") or (self.initial.labels if self.initial else ()) or values
        known = dict(inferred)
        kept = [(v, n) for v, n in zip(values, names, strict=False) if v in known]
        return kept + [(v, n) for v, n in inferred if v not in dict(kept)]

    def _fill(self, rows: list[tuple[str, Any, str]], editable: bool) -> None:
        self.labels.setRowCount(len(rows))
        for r, (value, count, name) in enumerate(rows):
            for c, text in enumerate((value, f"{count:,}" if isinstance(count, int) else "", name)):
                item = QTableWidgetItem(str(text))
                flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                if c == 2 and editable:
                    flags |= Qt.ItemFlag.ItemIsEditable
                item.setFlags(flags)
                self.labels.setItem(r, c, item)
        self.labels.setColumnHidden(2, not editable)

    def _move(self, step: int) -> None:
        row = self.labels.currentRow()
        other = row + step
        if row < 0 or not 0 <= other < self.labels.rowCount():
            return
        for column in range(3):
            a, b = self.labels.takeItem(row, column), self.labels.takeItem(other, column)
            self.labels.setItem(row, column, b)
            self.labels.setItem(other, column, a)
        self.labels.setCurrentCell(other, 2)

    def _cell(self, row: int, column: int) -> str:
        item = self.labels.item(row, column)
        return item.text() if item is not None else ""

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        fmt = self.draft["format"]
        if fmt == "multiple_choice":
            self.draft.update(choice_label=self.kind.currentData(), label_values=(), labels=())
        elif fmt in LABELLED_FORMATS:
            rows = range(self.labels.rowCount())
            values = tuple(self._cell(r, 0) for r in rows)
            names = tuple(self._cell(r, 2).strip() for r in rows)
            if len(values) < 2:
                why = f" The {self.not_labels}." if self.not_labels else ""
                return refuse(self, f"A classification task needs at least two labels.{why}")
            if not all(names) or len(set(names)) < len(names):
                return refuse(self, "Give every label a name of its own.")
            self.draft.update(label_values=values, labels=names if names != values else ())
        return True


class DetailsPage(Page):
    """Name, title, family, metric and description."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Task")
        self.setSubTitle("How the task is named and scored.")
        self.name = QLineEdit()
        self.name.textChanged.connect(self._check_name)
        self.name_state = note("")
        # Not `title`: that would hide QWizardPage.title(), which refuse() calls.
        self.title_edit = QLineEdit()
        self.family = QComboBox()
        self.family.addItems(list(FAMILIES))
        # Not `metric`: that would hide QPaintDevice.metric(), which Qt calls.
        self.metric_box = QComboBox()
        self.description = QPlainTextEdit()
        self.description.setMaximumHeight(90)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("", self.name_state)
        form.addRow("Title", self.title_edit)
        form.addRow("Family", self.family)
        form.addRow("Metric", self.metric_box)
        form.addRow("Description", self.description)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        fmt, plan = self.draft["format"], self.initial
        wizard = host(self)
        taken = set(wizard.catalog) - ({wizard.editing.name} if wizard.editing else set())
        name = self.draft.get("name") or (plan.name if plan else "")
        self.name.setText(name or suggest_name(self.table.source, taken))
        self.title_edit.setText(self.draft.get("title") or (plan.title if plan else ""))
        self.title_edit.setPlaceholderText(self.name.text())
        family = self.draft.get("family") or (plan.family if plan else "") or DEFAULT_FAMILY[fmt]
        self.family.setCurrentText(family)
        self.metric_box.clear()
        self.metric_box.addItems(list(METRICS[fmt]))
        metric = self.draft.get("metric") or (plan.metric if plan else "")
        if metric in METRICS[fmt]:
            self.metric_box.setCurrentText(metric)
        self.description.setPlainText(
            self.draft.get("description") or (plan.description if plan else "")
        )

    def _check_name(self, text: str) -> None:
        if self.wizard() is None:
            return
        wizard = host(self)
        replacing = wizard.editing.name if wizard.editing else None
        try:
            check_name(text)
            library.check_free(text, wizard.catalog, replacing)
        except StudioError as exc:
            self.name_state.setStyleSheet(f"color: {RED};")
            self.name_state.setText(str(exc))
            return
        self.name_state.setStyleSheet("color: #555555;")
        self.name_state.setText("Saved as a YAML spec in your task library, with its records.")

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        wizard = host(self)
        self.draft.update(
            name=self.name.text().strip(),
            title=self.title_edit.text().strip(),
            family=self.family.currentText(),
            metric=self.metric_box.currentText(),
            description=self.description.toPlainText().strip(),
        )
        self.draft.setdefault("source", self.table.source)
        try:
            wizard.plan()
            library.check_free(
                self.draft["name"], wizard.catalog, wizard.editing.name if wizard.editing else None
            )
        except StudioError as exc:
            return refuse(self, str(exc))
        return True
