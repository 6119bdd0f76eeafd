"""The Monitor's progress line and log panel: where the primary run stands and what it said."""

from __future__ import annotations

import html
import math
import re
import time
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QWidget

from studio.core.run_record import Run
from studio.store.runs import RunStore
from studio.ui.monitor.resource_strip import ResourceStrip
from studio.ui.plotting.series import Series
from studio.ui.style import AMBER, ATTENTION, RED, STATUS_COLOURS, coloured
from studio.ui.text import duration
from studio.ui.widgets import never_widens

LOG_BLOCKS = 5000
RATE_WINDOW = 20  # rows of the step clock behind the ETA
LEVEL_COLOURS = {"ERROR": RED, "CRITICAL": RED, "WARNING": AMBER}
_UNSEEN = object()  # nothing drawn yet


class ProgressLine(QWidget):
    """A progress bar with step / total, and a status line: status, ETA, examples/s, error;
    at its end, while a training job runs, what the job uses of the machine (`resources`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.label = QLabel("no run shown")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        never_widens(self.label)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 2)
        layout.addWidget(self.label, 3)
        self.resources = ResourceStrip()  # fed by the window's training jobs (RunActions)
        layout.addWidget(self.resources)
        self._key: object = _UNSEEN
        self._stopping = False

    def reset(self) -> None:
        self._key = _UNSEEN
        self._stopping = False

    def stopping(self) -> None:
        """Stop was asked: say "stopping…" until the run is no longer running."""
        self._stopping = True
        self._key = _UNSEEN

    def show_run(
        self, run_id: str, info: Run | None, rate: Series | None, clock: Series | None
    ) -> bool:
        """Draw the run's row, its last examples/s and the ETA its step clock gives.

        Returns whether anything changed: a heartbeat alone redraws nothing.
        """
        ex_s = float(rate.value[-1]) if rate is not None and rate.n else math.nan
        key = None
        if info is not None:
            key = (
                info.status, info.step, info.max_steps, info.error, info.stage,
                info.stage_progress, ex_s,
            )  # fmt: skip
        if key == self._key:
            return False
        self._key = key
        if info is None:
            self.bar.setRange(0, 1)
            self.bar.setValue(0)
            self.bar.setFormat("no run")
            self.label.setText(f"run {html.escape(run_id)} is not in the store")
            return True
        step, total, status = info.step, info.max_steps or 0, info.status
        self._stopping = self._stopping and status == "running"
        if status == "running" and info.stage:
            self._show_stage(info.stage, info.stage_progress)
            return True
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(step, max(total, 1)))
        self.bar.setFormat(f"step {step:,} / {total:,}" if total else f"step {step:,}")
        parts = [f"<b>{'stopping…' if self._stopping else html.escape(status)}</b>"]
        eta = _eta(clock, total - step) if status == "running" and total > step else None
        parts += [f"ETA {eta}"] if eta else []
        parts += [f"{ex_s:,.0f} ex/s"] if math.isfinite(ex_s) else []
        parts += [html.escape(info.error)] if info.error and status != "running" else []
        text = " · ".join(parts)
        self.label.setText(coloured(text, STATUS_COLOURS[status]) if status in ATTENTION else text)
        return True

    def _show_stage(self, stage: str, fraction: float | None) -> None:
        """What a running run does besides updates — preparing its data, validating, saving
        the checkpoint of a stop — and how far, when that is known."""
        if fraction is None:
            self.bar.setRange(0, 0)  # busy
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * fraction))
        # The loop's stages name themselves ("validating · rte (2 of 5)"); the rest prepare.
        word, named, detail = stage.partition(" · ")
        if not named:
            word, detail = "preparing", stage
        self.bar.setFormat(word)
        self.label.setText(
            f"<b>{html.escape(word)}</b>" + (f" · {html.escape(detail)}" if detail else "")
        )

    def show_message(self, text: str) -> None:
        """A line in place of the run's status, until the next poll that reads the run."""
        self.label.setText(html.escape(text))
        self._key = _UNSEEN

    def text(self) -> str:
        """The bar's text and the status line, as plain text."""
        status = html.unescape(re.sub(r"<[^>]+>", "", self.label.text()))
        return f"{self.bar.text()} · {status}"


class FailureBanner(QLabel):
    """Where a failed run's reason shows: its error and the log line that explains it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failure")
        never_widens(self)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setStyleSheet(
            f"QLabel#failure {{ background: #FDECEA; color: {RED}; border: 1px solid #F5B7B1;"
            " border-radius: 4px; padding: 6px 8px; }"
        )
        self.hide()

    def show_failure(self, info: Run | None, logs: list[dict[str, Any]]) -> None:
        """Show the run's error if it failed (else hide); `logs` are its log rows."""
        if info is None or info.status != "failed":
            self.hide()
            return
        error = info.error or "no error was recorded"
        step = info.step
        when = f"at update {step:,}" if step else "before its first update"
        text = f"<b>This run failed {when}:</b> {html.escape(error)}"
        line = explaining_line(logs, error)
        if line:
            text += f"<br><b>Log:</b> <code>{html.escape(line)}</code>"
        text += "<br>Its whole log is below."
        self.setText(text)
        self.show()


def explaining_line(logs: list[dict[str, Any]], error: str) -> str | None:
    """The log line that best explains a failure: the exception line that ends the error's
    traceback, else the last warning before it (e.g. a non-finite loss, an out-of-memory)."""
    errors = [r for r in logs if str(r["level"]).lower() in ("error", "critical")]
    for row in reversed(errors):
        lines = [x.strip() for x in str(row["message"] or "").splitlines() if x.strip()]
        cause = next((x for x in reversed(lines) if x != error and _is_exception(x)), None)
        if cause:
            return cause
    warnings = [r for r in logs if str(r["level"]).lower() == "warning"]
    return str(warnings[-1]["message"]).splitlines()[0] if warnings else None


def _is_exception(line: str) -> bool:
    """'ValueError: ...', 'torch.OutOfMemoryError: ...': a traceback's last line."""
    return re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b", line) is not None


class LogPanel(QPlainTextEdit):
    """The run's log rows, coloured by level, read incrementally from the store."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(LOG_BLOCKS)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._last_id = 0

    def reset(self) -> None:
        self.clear()
        self._last_id = 0

    def poll(self, store: RunStore, run_id: str) -> bool:
        """Append the rows logged since the last poll; returns whether there were any."""
        rows = store.logs(run_id, after_id=self._last_id)
        if not rows:
            return False
        self._last_id = rows[-1]["id"]
        for row in rows[-LOG_BLOCKS:]:
            stamp = time.strftime("%H:%M:%S", time.localtime(row["time"] or 0))
            level = str(row["level"] or "").upper()
            message = html.escape(str(row["message"] or "")).replace("\n", "<br>")
            # &nbsp;: HTML would collapse the padding that lines the messages up.
            line = f"{stamp} {level:<7} {message}".replace("  ", "&nbsp; ")
            colour = LEVEL_COLOURS.get(level)
            self.appendHtml(coloured(line, colour) if colour else line)
        return True


def _eta(clock: Series | None, remaining: int) -> str | None:
    """Time left at the recent step rate, timed by the wall clock of run-wide rows.

    The median of the recent intervals' seconds per update: an interval that held a
    validation or a checkpoint does not make the ETA jump (a mean over them did, 2:29 → 3:10
    → 1:54).
    """
    if clock is None or clock.n < 2:
        return None
    k = min(clock.n, RATE_WINDOW + 1)
    steps = np.diff(clock.step[-k:])
    seconds = np.diff(clock.minutes[-k:]) * 60.0
    rates = seconds[steps > 0] / steps[steps > 0]
    rates = rates[rates > 0]
    if not len(rates):
        return None
    return duration(remaining * float(np.median(rates)))
