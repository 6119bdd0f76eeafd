"""The Add task wizard's Columns page: the first rows with their types, the task format and
which column feeds each of its fields (guessed by `studio.core.importing.mapping`, as `task add`
does)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.importing.guessing import LabelCheck, check_label_column, draft_fields
from studio.core.importing.plan import SourceTable, fields
from studio.core.tasks.formats import FORMATS, LABELLED_FORMATS
from studio.ui.style import AMBER, RED
from studio.ui.wizard.pages import Page, note, refuse

NONE = "(none)"
FIND_IN_CONTEXT = "(find the answer in the context)"
FORMAT_TEXT = {
    "classification": "classification — one text, a label",
    "pair_classification": "pair classification — two texts, a label",
    "regression": "regression — one or two texts, a number",
    "multiple_choice": "multiple choice — context, question, choices, the right one",
    "extractive_qa": "extractive QA — context, question, answer span",
    "summarization": "summarization — document, summary",
}
FIELD_TEXT = {
    "text": "Text",
    "text_pair": "Second text",
    "label": "Label",
    "context": "Context",
    "question": "Question",
    "choices": "Choices",
    "answers": "Answer",
    "answer_start": "Answer start",
    "document": "Document",
    "summary": "Summary",
}
ROLE = Qt.ItemDataRole.UserRole


class ColumnsPage(Page):
    """The first rows with their column types; the format and which column feeds each field."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Columns")
        self.setSubTitle("Check the data, pick the task format and the column for each field.")
        self.sizes = QLabel()
        self.rows = QTableWidget()
        self.rows.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.rows.setWordWrap(False)
        self.format = QComboBox()
        for fmt in FORMATS:
            self.format.addItem(FORMAT_TEXT[fmt], fmt)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.mapping = QFormLayout()
        self.widgets: dict[str, QWidget] = {}
        self.label_state = note("")  # the chosen label column's problem or warning
        self.label_state.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.sizes)
        layout.addWidget(self.rows, 1)
        top = QFormLayout()
        top.addRow("Format", self.format)
        layout.addLayout(top)
        layout.addLayout(self.mapping)
        layout.addWidget(self.label_state)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        table = self.table
        sizes = ", ".join(f"{split}: {n:,} rows" for split, n in table.splits.items())
        self.sizes.setText(f"{table.source.describe()} — {sizes}")
        self._fill_rows(table)
        plan = self.initial
        fmt = self.draft.get("format") or (plan.format if plan else None)
        fmt = fmt or draft_fields(table)["format"]
        self.format.blockSignals(True)
        self.format.setCurrentIndex(FORMATS.index(fmt))
        self.format.blockSignals(False)
        columns: dict[str, tuple[str, ...]] | None
        columns = self.draft.get("columns") or (plan.columns if plan else None)
        if not columns or not all(c in table.types for cs in columns.values() for c in cs):
            columns = draft_fields(table, fmt)["columns"]
        self._build(fmt, columns)

    def _fill_rows(self, table: SourceTable) -> None:
        columns = list(table.types)
        self.rows.setColumnCount(len(columns))
        self.rows.setHorizontalHeaderLabels([f"{c}\n{table.types[c]}" for c in columns])
        self.rows.setRowCount(len(table.rows))
        for r, row in enumerate(table.rows):
            for c, column in enumerate(columns):
                value = row.get(column)
                item = QTableWidgetItem("" if value is None else str(value)[:200])
                item.setToolTip(str(value)[:2000])
                self.rows.setItem(r, c, item)
        self.rows.resizeColumnsToContents()
        for c in range(len(columns)):
            self.rows.setColumnWidth(c, min(self.rows.columnWidth(c), 320))

    def _format_changed(self) -> None:
        fmt = self.format.currentData()
        self._build(fmt, draft_fields(self.table, fmt)["columns"])

    def _build(self, fmt: str, columns: dict[str, tuple[str, ...]]) -> None:
        while self.mapping.rowCount():
            self.mapping.removeRow(0)
        self.widgets = {}
        types = self.table.types
        for field, required in fields(fmt):
            if field == "choices":
                widget: QWidget = self._choices_list(columns.get("choices", ()))
            else:
                combo = QComboBox()
                if not required:
                    combo.addItem(FIND_IN_CONTEXT if field == "answer_start" else NONE, None)
                for column, tag in types.items():
                    combo.addItem(f"{column}  ({tag})", column)
                chosen = (columns.get(field) or (None,))[0]
                combo.setCurrentIndex(max(combo.findData(chosen), 0))
                if field == "label":
                    combo.currentIndexChanged.connect(self._show_label_check)
                widget = combo
            self.widgets[field] = widget
            self.mapping.addRow(FIELD_TEXT[field] + ("" if required else " (optional)"), widget)
        if fmt == "multiple_choice":
            self.mapping.addRow(
                note("Check one list column, or one column per choice (in the order shown).")
            )
        self._show_label_check()

    def label_check(self) -> LabelCheck:
        """The chosen label column's check; none for formats without class labels."""
        widget = self.widgets.get("label")
        fmt = self.format.currentData()
        if fmt not in LABELLED_FORMATS or not isinstance(widget, QComboBox):
            return LabelCheck()
        column = widget.currentData()
        return check_label_column(self.table, column) if column else LabelCheck()

    def _show_label_check(self) -> None:
        """Say here, as the label column is chosen, what is wrong with it: not two pages on."""
        check = self.label_check()
        text = check.problem or check.warning
        self.label_state.setVisible(bool(text))
        if text:
            self.label_state.setStyleSheet(f"color: {RED if check.problem else AMBER};")
            self.label_state.setText(f"{text[0].upper()}{text[1:]}.")

    def _choices_list(self, chosen: tuple[str, ...]) -> QListWidget:
        box = QListWidget()
        box.setMaximumHeight(110)
        for column, tag in self.table.types.items():
            item = QListWidgetItem(f"{column}  ({tag})")
            item.setData(ROLE, column)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            on = column in chosen
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            box.addItem(item)
        return box

    def columns(self) -> dict[str, tuple[str, ...]]:
        mapping: dict[str, tuple[str, ...]] = {}
        for field, widget in self.widgets.items():
            if isinstance(widget, QListWidget):
                items = [widget.item(i) for i in range(widget.count())]
                checked = [i.data(ROLE) for i in items if i.checkState() == Qt.CheckState.Checked]
                if checked:
                    mapping[field] = tuple(checked)
            elif isinstance(widget, QComboBox) and widget.currentData() is not None:
                mapping[field] = (widget.currentData(),)
        return mapping

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        fmt = self.format.currentData()
        mapping = self.columns()
        missing = [FIELD_TEXT[f] for f, required in fields(fmt) if required and f not in mapping]
        if missing:
            return refuse(self, f"Choose a column for: {', '.join(missing)}.")
        if fmt == "multiple_choice" and len(mapping["choices"]) == 1:
            tag = self.table.types[mapping["choices"][0]]
            if not tag.startswith("list"):
                return refuse(self, "One choices column must hold a list; or check one per choice.")
        used = [c for f, cs in mapping.items() if f != "choices" for c in cs]
        if len(set(used)) < len(used):
            return refuse(self, "Each field needs its own column.")
        problem = self.label_check().problem
        if problem:
            return refuse(self, f"{problem[0].upper()}{problem[1:]}; choose another column.")
        if fmt != self.draft.get("format"):  # labels and metric of another format are stale
            for key in ("label_values", "labels", "choice_label", "metric"):
                self.draft.pop(key, None)
        self.draft.update(format=fmt, columns=mapping)
        return True
