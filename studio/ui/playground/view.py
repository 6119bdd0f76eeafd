"""The Playground tab: type an input, see what each head of a trained model answers.

The view only gathers the input (in the shape the chosen task's format takes: a sentence, a
pair, a question with choices, a question with a context) and shows answers: each head's
label with a bar per probability, a span answer marked in its context, and the validation
examples the model got most wrong. `PlaygroundActions` runs the model in a job process.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import HeadPrediction, PredictRequest, PredictResult
from studio.core.mistakes import Mistakes

ANY_TASK = "every matching head"
# The input each format takes, and what the first box is called for it.
KINDS = {
    "sentence": "A sentence",
    "pair": "A sentence pair",
    "choices": "A question with choices",
    "context": "A question about a context",
}
KIND_OF_FORMAT = {
    "classification": "sentence",
    "regression": "sentence",
    "pair_classification": "pair",
    "multiple_choice": "choices",
    "extractive_qa": "context",
}


class PlaygroundView(QWidget):
    """Inputs for one prediction and its answers; `predictRequested` carries the request,
    `modelChosen` the model (a run id or a folder) whenever another is picked."""

    predictRequested = Signal(object)
    modelChosen = Signal(str)
    browseRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._formats: dict[str, str] = {}
        self._found: Mistakes | None = None  # the chosen model's, listed for the chosen task
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setToolTip("A run (its checkpoint below) or an export folder")
        self.browse = QPushButton("Export folder…")
        self.checkpoint = QComboBox()
        self.checkpoint.addItems(["best", "latest"])
        self.checkpoint.setEditable(True)  # or a step number
        self.task = QComboBox()
        self.kind = QComboBox()
        for key, text in KINDS.items():
            self.kind.addItem(text, key)
        self.text = QLineEdit()
        self.text_pair = QLineEdit()
        self.choices = QPlainTextEdit()
        self.choices.setPlaceholderText("one choice per line")
        self.context = QPlainTextEdit()
        self.context.setPlaceholderText("the passage the answer is found in")
        self.predict = QPushButton("Predict")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.answers = QTextBrowser()
        self.mistakes = QTableWidget(0, 4)
        self.mistakes.setHorizontalHeaderLabels(["input", "true", "predicted", "confidence"])
        self.mistakes.horizontalHeader().setStretchLastSection(True)
        self.mistakes_title = QLabel("Most wrong at the last evaluation")
        self._lay_out()
        self._connect()
        self._show_kind()

    def _lay_out(self) -> None:
        form = QFormLayout()
        source = QHBoxLayout()
        source.addWidget(self.model, 1)
        source.addWidget(self.browse)
        form.addRow("Model", source)
        form.addRow("Checkpoint", self.checkpoint)
        form.addRow("Task", self.task)
        form.addRow("Input", self.kind)
        form.addRow("Text", self.text)
        form.addRow("Text pair", self.text_pair)
        form.addRow("Choices", self.choices)
        form.addRow("Context", self.context)
        self.form = form
        inputs = QWidget()
        column = QVBoxLayout(inputs)
        column.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.predict)
        buttons.addWidget(self.status, 1)
        column.addLayout(buttons)
        below = QWidget()
        lower = QVBoxLayout(below)
        lower.setContentsMargins(0, 0, 0, 0)
        lower.addWidget(self.mistakes_title)
        lower.addWidget(self.mistakes)
        split = QSplitter()
        split.addWidget(inputs)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.answers)
        right.addWidget(below)
        split.addWidget(right)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    def _connect(self) -> None:
        self.kind.currentIndexChanged.connect(self._show_kind)
        self.task.currentIndexChanged.connect(self._task_chosen)
        self.predict.clicked.connect(self._request)
        self.text.returnPressed.connect(self._request)
        self.browse.clicked.connect(self.browseRequested)
        self.model.activated.connect(lambda _: self.modelChosen.emit(self.model_text()))
        line = self.model.lineEdit()
        if line is not None:
            line.editingFinished.connect(lambda: self.modelChosen.emit(self.model_text()))

    # -- what the actions fill in -----------------------------------------------------------

    def set_models(self, models: Sequence[tuple[str, str]]) -> None:
        """The runs to offer: (what the list shows, the run id), newest first."""
        current = self.model_text()
        self.model.blockSignals(True)
        self.model.clear()
        for shown, run_id in models:
            self.model.addItem(shown, run_id)
        self.model.setCurrentIndex(-1)
        self.model.setEditText(current)
        self.model.blockSignals(False)

    def set_model(self, model: str) -> None:
        index = self.model.findData(model)
        if index >= 0:
            self.model.setCurrentIndex(index)
        else:
            self.model.setEditText(model)
        self.modelChosen.emit(self.model_text())

    def model_text(self) -> str:
        """The chosen run's id, or the folder typed or browsed to."""
        index = self.model.currentIndex()
        if index >= 0 and self.model.itemText(index) == self.model.currentText():
            return str(self.model.itemData(index))
        return self.model.currentText().strip()

    def set_tasks(self, formats: Mapping[str, str]) -> None:
        """The model's tasks that have a head, by format; an input fits the chosen one's."""
        self._formats = dict(formats)
        self.task.blockSignals(True)
        self.task.clear()
        self.task.addItem(ANY_TASK, None)
        for name, fmt in formats.items():
            self.task.addItem(f"{name} ({fmt.replace('_', ' ')})", name)
        self.task.blockSignals(False)
        self._task_chosen()

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.predict.setEnabled(not busy)
        self.status.setText(text)

    def show_error(self, error: str) -> None:
        self.set_busy(False, error)
        self.answers.setHtml(f"<p style='color:#b00'>{html.escape(error)}</p>")

    def show_result(self, result: PredictResult) -> None:
        self.set_busy(False, f"answered by {result.source}")
        self.answers.setHtml(answers_html(result.predictions, self.context.toPlainText()))

    def show_mistakes(self, found: Mistakes | None) -> None:
        """The validation examples most wrong for the chosen task (every task's, without)."""
        self._found = found
        self.mistakes.setRowCount(0)
        if found is None:
            self.mistakes_title.setText("No evaluation of this model recorded its mistakes")
            return
        task = self.task.currentData()
        self.mistakes_title.setText(f"Most wrong at the evaluation of update {found.step}")
        rows = [(name, m) for name, ms in found.tasks.items() if task in (None, name) for m in ms]
        self.mistakes.setRowCount(len(rows))
        for r, (name, m) in enumerate(rows):
            inputs = " | ".join(
                " / ".join(map(str, v)) if isinstance(v, list) else str(v)
                for v in m.inputs.values()
            )
            cells = [f"{name}: {inputs}", m.label, m.predicted, f"{m.confidence:.3f}"]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.mistakes.setItem(r, c, item)

    # -- the form ---------------------------------------------------------------------------

    def _task_chosen(self) -> None:
        fmt = self._formats.get(self.task.currentData() or "")
        if fmt in KIND_OF_FORMAT:
            self.kind.setCurrentIndex(self.kind.findData(KIND_OF_FORMAT[fmt]))
        self.kind.setEnabled(fmt is None)
        if self._found is not None:
            self.show_mistakes(self._found)

    def _show_kind(self) -> None:
        kind = self.kind.currentData()
        for widget, shown in (
            (self.text_pair, kind == "pair"),
            (self.choices, kind == "choices"),
            (self.context, kind == "context"),
        ):
            self.form.setRowVisible(widget, shown)
        label = self.form.labelForField(self.text)
        if isinstance(label, QLabel):
            label.setText("Question" if kind in ("choices", "context") else "Text")

    def request(self) -> PredictRequest | None:
        """The prediction the form asks for; None (and why, in the status) when incomplete."""
        model, text = self.model_text(), self.text.text().strip()
        kind = self.kind.currentData()
        choices = tuple(c.strip() for c in self.choices.toPlainText().splitlines() if c.strip())
        context = self.context.toPlainText().strip()
        missing = (
            "a model" if not model else
            "a text" if not text else
            "a text pair" if kind == "pair" and not self.text_pair.text().strip() else
            "two choices or more" if kind == "choices" and len(choices) < 2 else
            "a context" if kind == "context" and not context else None
        )  # fmt: skip
        if missing:
            self.status.setText(f"Give {missing} first")
            return None
        return PredictRequest(
            model=model,
            text=text,
            text_pair=self.text_pair.text().strip() if kind == "pair" else None,
            choices=choices if kind == "choices" else (),
            context=context if kind == "context" else None,
            task=self.task.currentData(),
            which=self.checkpoint.currentText().strip() or "best",
        )

    def _request(self) -> None:
        request = self.request()
        if request is not None:
            self.set_busy(True, "predicting…")
            self.predictRequested.emit(request)


def answers_html(predictions: Sequence[HeadPrediction], context: str) -> str:
    """Each head's answer: its label, a bar per outcome's probability, a span marked in the
    context it was found in."""
    parts = []
    for p in predictions:
        title = f"<h3>{html.escape(', '.join(p.tasks))} <small>({p.format})</small></h3>"
        if p.value is not None:
            parts.append(f"{title}<p>predicted score <b>{p.value:.4f}</b></p>")
            continue
        rows = "".join(
            f"<tr><td>{html.escape(label)}</td><td>"
            f"<table cellspacing=0 cellpadding=0><tr><td bgcolor='#4a7fd4' "
            f"width='{max(1, round(200 * chance))}' height='10'></td></tr></table>"
            f"</td><td align='right'>{chance:.3f}</td></tr>"
            for label, chance in p.probabilities
        )
        answer = f"<p>answer: <b>{html.escape(p.label)}</b></p>"
        if p.span is not None:
            a, b = p.span
            answer += (
                f"<p>{html.escape(context[:a])}<span style='background:#ffe066'>"
                f"<b>{html.escape(context[a:b])}</b></span>{html.escape(context[b:])}</p>"
            )
        parts.append(f"{title}{answer}<table>{rows}</table>")
    return "".join(parts) or "<p>no head answered</p>"
