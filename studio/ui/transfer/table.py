"""The Transfer tab's tables: a transfer's paired comparison per target and size, and a
task-count sweep's points."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from studio.core.experiments.paired import Comparison
from studio.core.experiments.transfer import Cell, size_key
from studio.ui.style import AMBER, GREEN, RED

TRANSFER_COLUMNS = (
    "Target", "k", "Metric", "Majority", "Base", "Pre-finetuned", "Gain", "95% interval",
    "Verdict", "Leaked",
)  # fmt: skip
VERDICT_TIPS = {
    "gain": "the 95% interval of the paired gain lies above 0: a significant gain",
    "loss": "the 95% interval of the paired gain lies below 0: a significant loss",
    "no difference": "the 95% interval of the paired gain includes 0: no measurable difference",
    "one seed": "one paired seed gives no interval; add seeds to tell",
}
SWEEP_COLUMNS = ("Tasks in mix", "Base mean", "Pre-finetuned mean", "Gain")
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _item(text: str, align: Qt.AlignmentFlag | None = None, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align is not None:
        item.setTextAlignment(align)
    if tip:
        item.setToolTip(tip)
    return item


def _mean_std(cell: Cell | None) -> str:
    return "—" if cell is None else f"{cell.mean:.3f} ± {cell.std:.3f}"


def _gain_item(gain: float | None) -> QTableWidgetItem:
    """A sweep point's gain (one value per task count: no interval)."""
    if gain is None:
        return _item("", RIGHT)
    item = _item(f"{gain:+.3f}", RIGHT, "pre-finetuned minus base")
    item.setForeground(QColor(GREEN if gain >= 0 else RED))
    font = QFont()
    font.setBold(True)
    item.setFont(font)
    return item


def _setup(table: QTableWidget, columns: tuple[str, ...], rows: int) -> None:
    table.clear()
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setRowCount(rows)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    # No stretched column: a wide one would push the numbers away from the names.
    header.setStretchLastSection(False)
    table.verticalHeader().setDefaultSectionSize(24)


def fill_transfer_table(
    table: QTableWidget,
    cells: list[Cell],
    ks: dict[tuple[str, str], int],
    pairs: list[Comparison],
) -> None:
    """target, k, metric, majority-label floor, base and pre-finetuned mean ± std over seeds,
    the paired gain with its 95 % interval and verdict, leaked."""
    by_key = {(c.target, c.size, c.model): c for c in cells}
    paired = {(c.target, c.size): c for c in pairs}
    keys = sorted({(c.target, c.size) for c in cells}, key=lambda ts: (ts[0], size_key(ts[1])))
    _setup(table, TRANSFER_COLUMNS, len(keys))
    for row, (target, size) in enumerate(keys):
        base, tuned = by_key.get((target, size, "base")), by_key.get((target, size, "pretuned"))
        cell = base or tuned
        assert cell is not None  # every key came from a cell
        pair = paired.get((target, size))
        k = ks.get((target, size))
        k_text = f"{k:,}" if k else size
        k_text += " (all)" if size == "all" and k else ""
        seeds = ", ".join(f"{c.model}: {c.n} seed(s)" for c in (base, tuned) if c is not None)
        items = [
            _item(target),
            _item(k_text, RIGHT, f"training examples used (size asked: {size})"),
            _item(cell.metric),
            *_floor_items(pair),
            _item(_mean_std(base), RIGHT, seeds),
            _item(_mean_std(tuned), RIGHT, seeds),
            *_paired_items(pair),
            _item("yes" if cell.leaked else "", None),
        ]
        if cell.leaked:
            tip = "was in the pre-finetuning mix: this result is leaked, not a transfer result"
            for item in (items[0], items[-1]):
                item.setForeground(QColor(AMBER))
                item.setToolTip(tip)
        for col, item in enumerate(items):
            table.setItem(row, col, item)


def _floor_items(pair: Comparison | None) -> list[QTableWidgetItem]:
    if pair is None or pair.baseline is None:
        return [_item("", RIGHT)]
    tip = "always answering the training sample's commonest label scores this"
    item = _item(f"{pair.baseline:.3f}", RIGHT, tip)
    if pair.at_baseline:
        item.setForeground(QColor(AMBER))
        item.setToolTip("neither model beats the majority label: nothing to compare here")
    return [item]


def _paired_items(pair: Comparison | None) -> list[QTableWidgetItem]:
    """Gain, interval and verdict; blank until a seed has both models."""
    if pair is None:
        return [_item("", RIGHT), _item("", RIGHT), _item("waiting for a pair", None)]
    span = "" if pair.low is None else f"[{pair.low:+.3f}, {pair.high:+.3f}]"
    gain = _item(f"{pair.gain:+.3f}", RIGHT, f"mean paired difference over {pair.seeds} seed(s)")
    verdict = _item(pair.verdict, None, VERDICT_TIPS[pair.verdict])
    colour = {"gain": GREEN, "loss": RED}.get(pair.verdict)
    for item in (gain, verdict):
        if colour:
            item.setForeground(QColor(colour))
            font = QFont()
            font.setBold(True)
            item.setFont(font)
    return [gain, _item(span, RIGHT, "95% Student-t interval of the paired gain"), verdict]


def fill_sweep_table(table: QTableWidget, points: dict[int, dict[str, float]]) -> None:
    """Number of tasks, base and pre-finetuned mean target metric, and the gain."""
    _setup(table, SWEEP_COLUMNS, len(points))
    for row, (step, point) in enumerate(points.items()):
        values = [point.get("base_mean"), point.get("pretuned_mean")]
        cells = [_item("" if v is None else f"{v:.3f}", RIGHT) for v in values]
        items = [_item(str(step), RIGHT), *cells, _gain_item(point.get("gain"))]
        for col, item in enumerate(items):
            table.setItem(row, col, item)
