"""The transfer verdict: base and pre-finetuned compared pair by pair.

Both models of a seed fine-tune on the same k-subsample in the same batch order, so the
difference of their scores cancels what the seed alone moves. Per (target, size): the mean
paired difference, a 95 % Student-t interval over seeds, and a gain or a loss only when the
interval excludes 0. Pure Python.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from studio.core.run_record import TransferResult

# Two-sided 95 % quantiles of Student's t by degrees of freedom; between entries the smaller
# df's (larger) value is used, so an interval is never narrower than it should be.
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
    10: 2.228, 12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000,
    120: 1.980,
}  # fmt: skip


def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with `df` degrees of freedom (conservative)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    return _T975[max(d for d in _T975 if d <= df)] if df <= 120 else 1.960


@dataclass(frozen=True)
class Comparison:
    """One (target, size): both models over the seeds they share, and the paired verdict."""

    target: str
    size: str
    metric: str
    seeds: int  # pairs: seeds where both models finished
    base: float  # mean over those seeds
    pretuned: float
    base_std: float
    pretuned_std: float
    gain: float  # mean paired difference, pretuned - base
    low: float | None  # its 95 % interval (None with one pair)
    high: float | None
    baseline: float | None  # the majority label's metric (mean over seeds); None for spans
    leaked: bool

    @property
    def verdict(self) -> str:
        """'gain' or 'loss' when the interval excludes 0; otherwise 'no difference' (or 'one
        seed', which cannot tell)."""
        if self.low is None or self.high is None:
            return "one seed"
        return "gain" if self.low > 0 else "loss" if self.high < 0 else "no difference"

    @property
    def at_baseline(self) -> bool:
        """Neither model beats always answering the majority label by a point."""
        return self.baseline is not None and max(self.base, self.pretuned) < self.baseline + 0.01


def interval(diffs: list[float]) -> tuple[float, float | None, float | None]:
    """Mean of paired differences and its 95 % t interval (no interval for one pair)."""
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, None, None
    half = t975(len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean, mean - half, mean + half


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def compare(results: Iterable[TransferResult]) -> list[Comparison]:
    """Pair result rows by (target, size, seed); one Comparison per (target, size) that has a
    pair, in target then size order."""
    cells: dict[tuple[str, str], dict[int, dict[str, TransferResult]]] = {}
    for row in results:
        seeds = cells.setdefault((row.target, row.size), {})
        seeds.setdefault(row.seed, {})[row.model] = row
    out = []
    for (target, size), seeds in sorted(cells.items(), key=lambda c: (c[0][0], _size(c[0][1]))):
        pairs = [s for s in seeds.values() if {"base", "pretuned"} <= set(s)]
        if not pairs:
            continue
        base = [p["base"].value for p in pairs]
        tuned = [p["pretuned"].value for p in pairs]
        gain, low, high = interval([t - b for t, b in zip(tuned, base, strict=True)])
        floors = [r.baseline for p in pairs for r in p.values()]
        known = [f for f in floors if f is not None]
        out.append(
            Comparison(
                target, size, pairs[0]["base"].metric, len(pairs),
                statistics.fmean(base), statistics.fmean(tuned), _std(base), _std(tuned),
                gain, low, high, statistics.fmean(known) if known else None,
                any(r.leaked for p in pairs for r in p.values()),
            )
        )  # fmt: skip
    return out


def _size(size: str) -> float:
    return float("inf") if size == "all" else float(size)


def _pm(mean: float, std: float) -> str:
    return f"{mean:.4f} ± {std:.4f}"


def table(results: Iterable[TransferResult]) -> str:
    """The transfer table: per target and size the majority-label floor, both models' mean ±
    std over seeds, the mean paired gain with its 95 % interval and the verdict; then a tally."""
    rows = compare(results)
    lines = [
        f"{'target':<16} {'k':>5} {'metric':<9} {'majority':>8} {'base':>15} {'pretuned':>15} "
        f"{'gain':>8} {'95% interval':>19} {'n':>2}  verdict"
    ]
    for c in rows:
        span = f"[{c.low:+.4f}, {c.high:+.4f}]" if c.low is not None else "—"
        floor = f"{c.baseline:.4f}" if c.baseline is not None else "—"
        notes = [c.verdict]
        if c.at_baseline:
            notes.append("both at the majority label")
        if c.leaked:
            notes.append("LEAK: target was in the pre-finetuning mix")
        lines.append(
            f"{c.target:<16} {c.size:>5} {c.metric:<9} {floor:>8} {_pm(c.base, c.base_std):>15} "
            f"{_pm(c.pretuned, c.pretuned_std):>15} {c.gain:+8.4f} {span:>19} {c.seeds:>2}  "
            + "; ".join(notes)
        )
    lines.append(tally(rows))
    return "\n".join(lines)


def tally(rows: list[Comparison]) -> str:
    """'significant gain in 2 of 8 cells, loss in 1; mean gain +0.0123'."""
    if not rows:
        return "no paired results yet"
    verdicts = [c.verdict for c in rows]
    mean = statistics.fmean(c.gain for c in rows)
    return (
        f"significant gain in {verdicts.count('gain')} of {len(rows)} cells, "
        f"significant loss in {verdicts.count('loss')}; mean gain {mean:+.4f} "
        "(95% paired t interval over seeds)"
    )
