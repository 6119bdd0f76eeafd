"""The Data tab: the selected task's records, sizes and label distribution, and its first
training batch as the model will see it (tokens, truncation, padding) under the current
base model and lengths. The work runs in the job process; this view only shows it."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.core.config.run import RunConfig
from studio.core.importing.preview import describe_stats, label_name
from studio.core.tasks.availability import Availability
from studio.core.tasks.spec import TaskSpec
from studio.ui.style import GREY, RED
from studio.ui.widgets import never_widens
from studio.ui.worker import Worker

if TYPE_CHECKING:
    from studio.core.jobs import PreviewBatch, PreviewSummary

SPECIAL = {"[CLS]", "[SEP]", "<s>", "</s>", "[PAD]", "<pad>", "[UNK]", "<unk>"}
TOKEN = "background-color:#E8EEF7;"
ANSWER = "background-color:#C8EBC8;"


def token_html(tokens: list[str], answer: tuple[int, int] | None = None) -> str:
    """Tokens as the model sees them: one box each, special tokens grey, an answer green."""
    parts = []
    for i, token in enumerate(tokens):
        style = TOKEN + (ANSWER if answer and answer[0] <= i <= answer[1] else "")
        colour = f"color:{GREY};" if token in SPECIAL else ""
        parts.append(f'<span style="{style}{colour}">{html.escape(token)}</span>')
    return " ".join(parts)


def _sequence_html(seq: dict[str, Any], width: int, answer: tuple[int, int] | None = None) -> str:
    text = token_html(seq["tokens"], answer)
    pad = width - len(seq["tokens"])
    if seq["truncated"]:
        text += f' <span style="color:{RED}">✂ cut at {len(seq["tokens"])} tokens</span>'
    if pad > 0:
        text += f' <span style="color:{GREY}">+ {pad} padding</span>'
    return text


def batch_html(batch: dict[str, Any]) -> str:
    """The first training batch: each example's label and tokens, then the padding."""
    examples = batch["examples"]
    sequences = [s for e in examples for s in e.get("choices", [e])]
    width = max((len(s["tokens"]) for s in sequences), default=0)
    rows = [
        f"<p><b>First training batch</b> — {len(examples)} examples, model "
        f"<code>{html.escape(batch['model'])}</code>, max length {batch['max_length']}, padded "
        f"to {width} tokens: {100 * batch['padding']:.1f}% of the batch is padding "
        f"({batch['real_tokens']:,} real of {batch['computed_tokens']:,} tokens).</p>"
    ]
    for number, example in enumerate(examples, start=1):
        label = html.escape(str(example.get("label", "")))
        extra = ""
        if "window" in example and example["window"][1] > 1:
            extra = f" · context window {example['window'][0]} of {example['window'][1]}"
        rows.append(f"<p><b>{number}.</b> label: <b>{label}</b>{extra}<br>")
        if "choices" in example:
            for k, choice in enumerate(example["choices"], start=1):
                rows.append(f"&nbsp;&nbsp;choice {k}: {_sequence_html(choice, width)}<br>")
        else:
            answer = tuple(example["answer"]) if "answer" in example else None
            rows.append(_sequence_html(example, width, answer))
        if "target" in example:
            target = example["target"]
            rows.append(
                f"<br>&nbsp;&nbsp;→ summary: {_sequence_html(target, len(target['tokens']))}"
            )
        rows.append("</p>")
    return "\n".join(rows)


class TaskPreview(QWidget):
    """Shows one task at a time; a newer request waits for the running one, then replaces it."""

    def __init__(self, launch: Callable[[Worker], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.launch = launch
        self.worker: Worker | None = None
        self.pending: dict[str, Any] | None = None
        self.current: str | None = None  # the task whose results are wanted
        self.header = QLabel("Select a task in the Tasks panel to see its data.")
        never_widens(self.header)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.records = QTableWidget()
        self.records.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.records.setWordWrap(False)
        self.batch = QTextBrowser()
        self.batch.setOpenLinks(False)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.records)
        split.addWidget(self.batch)
        split.setSizes([200, 400])
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(split, 1)

    def show_task(
        self,
        spec: TaskSpec,
        where: Availability,
        config: RunConfig | str,
        catalog: dict[str, TaskSpec],
        data_dir: Any,
    ) -> None:
        """Preview `spec` under `config` (or a reason the config is not valid)."""
        self.current, self.spec = spec.name, spec
        origin = "your task" if spec.is_user else "built-in"
        place = where.detail or where.reason or ""
        name = f" ({html.escape(spec.name)})" if spec.title != spec.name else ""
        self.title = (
            f"<b>{html.escape(spec.title)}</b>{name} — {origin}, "
            f"{spec.format}, scored by {spec.metric}<br>"
            f'<span style="color:{GREY}">{html.escape(place)}</span>'
        )
        self.header.setText(self.title)
        self.records.clear()
        self.records.setRowCount(0)
        if not where.available:
            self.batch.setHtml(f"<p>This task is unavailable: {html.escape(place)}</p>")
            return
        self.batch.setHtml("<p>Reading the task and tokenizing its first batch…</p>")
        fields: dict[str, Any] = {"task": spec.name}
        if isinstance(config, str):
            self.batch.setHtml(f"<p>The first batch needs a valid configuration: {config}</p>")
        fields["config"] = config.to_dict() if isinstance(config, RunConfig) else None
        request = {"catalog": {spec.name: spec}, "data_dir": data_dir, "fields": fields}
        if self.worker is not None:  # stopped: its job process ends, then this one starts
            self.worker.stop()
            self.pending = request
            return
        self._start(request)

    def _start(self, request: dict[str, Any]) -> None:
        from studio.core.jobs import Job, PreviewRequest
        from studio.jobs.client import job_place

        place = job_place(request["catalog"], request["data_dir"])
        worker = Worker(Job(PreviewRequest(**request["fields"]), place))
        worker.partial.connect(self._summary)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        self.worker = worker
        self.asked = request["fields"]["task"]
        self.launch(worker)

    def _next(self) -> bool:
        self.worker = None
        if self.pending is None:
            return False
        request, self.pending = self.pending, None
        self._start(request)
        return True

    def _summary(self, value: PreviewSummary) -> None:
        if self.asked != self.current:
            return
        summary = value.summary
        lines = [
            f"<b>{split}</b>: {html.escape(describe_stats(stats))}"
            for split, stats in summary["splits"].items()
        ]
        self.header.setText(self.title + "<br>" + "<br>".join(lines))
        records = summary["records"]
        keys = list(dict.fromkeys(k for rec in records for k in rec))
        self.records.setColumnCount(len(keys))
        self.records.setHorizontalHeaderLabels(keys)
        self.records.setRowCount(len(records))
        for r, rec in enumerate(records):
            for c, key in enumerate(keys):
                value_ = rec.get(key)
                text = value_ if isinstance(value_, str) else json.dumps(value_, ensure_ascii=False)
                if key == "label" and self.spec.labels and isinstance(value_, int):
                    text = f"{value_} ({label_name(self.spec, value_)})"
                item = QTableWidgetItem(text[:300])
                item.setToolTip(text[:3000])
                self.records.setItem(r, c, item)
        self.records.resizeColumnsToContents()
        for c in range(len(keys)):
            self.records.setColumnWidth(c, min(self.records.columnWidth(c), 360))

    def _finished(self, value: PreviewBatch) -> None:
        asked = self.asked
        if self._next() or asked != self.current:
            return
        if value.batch:
            self.batch.setHtml(batch_html(value.batch))

    def _failed(self, error: str) -> None:
        asked = self.asked
        if self._next() or asked != self.current:
            return
        self.batch.setHtml(
            f'<p style="color:{RED}">{html.escape(error.partition(chr(10) * 2)[0])}</p>'
        )
