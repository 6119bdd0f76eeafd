"""The preflight line under Start: what a run with the drafted config would do, and how long
it would take here (studio.core.preflight), updated as the form changes."""

from __future__ import annotations

import html
import math
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from studio.core.errors import StudioError
from studio.core.metric_catalogue import EXAMPLES_PER_S
from studio.core.preflight import Preflight, Speed, guessed_speed, preflight
from studio.store.runs import RunStore
from studio.ui.draft import Draft
from studio.ui.state import StudioState
from studio.ui.style import AMBER, GREY, coloured
from studio.ui.widgets import never_widens


class PreflightLine(QLabel):
    """One line: the plan and its duration; amber with a warning when it is far too long."""

    def __init__(self, state: StudioState, draft: Draft, device: Callable[[], str]) -> None:
        super().__init__()
        self.state, self.draft, self.device = state, draft, device
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setContentsMargins(8, 2, 8, 2)
        never_widens(self)
        self.plan: Preflight | None = None
        self._speeds: dict[str, Speed | None] = {}  # base model -> measured here; reset on runs
        state.store.runsChanged.connect(self._forget_speeds)

    def refresh(self, *_: object) -> None:
        """Say the plan of the drafted config (or what is missing for one)."""
        try:
            config = self.draft.config()
        except StudioError as exc:
            self.plan = None
            self.setText(coloured(html.escape(f"Not ready to start: {exc}"), GREY))
            return
        sizes = {n: a.train_size for n, a in self.state.availability.items()}
        device = self.device()
        speed = self._measured(config.model) or guessed_speed(device, config.model)
        self.plan = preflight(config, sizes, device, speed)
        text = html.escape(self.plan.text)
        if self.plan.warning:
            text += "<br>" + coloured("<b>" + html.escape(self.plan.warning) + "</b>", AMBER)
        self.setText(text)
        self.setToolTip(self.plan.warning or self.plan.text)

    def _forget_speeds(self) -> None:
        self._speeds.clear()
        self.refresh()

    def _measured(self, model: str) -> Speed | None:
        if model not in self._speeds:
            try:
                self._speeds[model] = self.state.store.read(lambda s: _last_speed(s, model))
            except StudioError:
                self._speeds[model] = None
        return self._speeds[model]


def _last_speed(store: RunStore, model: str) -> Speed | None:
    """The median training speed of the newest pre-finetuning run of `model` that logged one."""
    for run in store.list_runs("pretrain"):
        if run.base_model != model or not run.step:
            continue
        rows = store.metric_series(run.id, EXAMPLES_PER_S)[-50:]  # its recent speed
        values = sorted(v for _, v, _ in rows if v is not None and math.isfinite(v) and v > 0)
        if values:
            length = int(run.config.get("max_length") or 0)
            if length > 0:
                return Speed(values[len(values) // 2], length, model, run.id)
    return None
