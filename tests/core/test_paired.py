"""The paired transfer verdict: differences per seed, the t interval, the tally."""

from __future__ import annotations

import statistics

import pytest

from studio.core.experiments.paired import compare, interval, t975, table
from studio.core.run_record import TransferResult


def _row(
    target: str, size: str, seed: int, model: str, value: float, **extra: object
) -> TransferResult:
    return TransferResult.from_row({
        "transfer_id": "t", "target": target, "size": size, "seed": seed, "model": model,
        "metric": "accuracy", "value": value, "leaked": 0, "baseline": 0.5, **extra,
    })  # fmt: skip


def test_t_quantiles_match_the_tables_and_stay_conservative_between_entries() -> None:
    assert t975(1) == pytest.approx(12.706)
    assert t975(4) == pytest.approx(2.776)
    assert t975(11) == t975(10)  # between 10 and 12: the larger quantile
    assert t975(10_000) == pytest.approx(1.96)
    with pytest.raises(ValueError, match="at least 1"):
        t975(0)


def test_interval_is_the_t_interval_of_the_differences() -> None:
    diffs = [0.02, 0.04, 0.03, 0.05]
    mean, low, high = interval(diffs)
    half = 3.182 * statistics.stdev(diffs) / 2
    assert mean == pytest.approx(0.035)
    assert (low, high) == (pytest.approx(0.035 - half), pytest.approx(0.035 + half))
    assert interval([0.1]) == (0.1, None, None)


def test_pairing_cancels_what_the_seed_moves() -> None:
    # The seed moves both models by a lot; pretuned is always 0.02 better: a paired gain,
    # though the two means' spreads overlap widely.
    rows = []
    for seed, shift in enumerate([0.0, 0.15, -0.1]):
        rows += [_row("rte", "32", seed, "base", 0.6 + shift)]
        rows += [_row("rte", "32", seed, "pretuned", 0.62 + shift + 0.001 * seed)]
    (cell,) = compare(rows)
    assert cell.seeds == 3 and cell.gain == pytest.approx(0.021)
    assert cell.low is not None and cell.low > 0 and cell.verdict == "gain"
    assert cell.base_std > 0.1  # unpaired, this would look like noise


def test_verdicts_unpaired_seeds_and_the_majority_floor() -> None:
    rows = [
        _row("copa", "all", 0, "base", 0.55), _row("copa", "all", 0, "pretuned", 0.50),
        _row("copa", "all", 1, "base", 0.60), _row("copa", "all", 1, "pretuned", 0.54),
        _row("copa", "all", 2, "base", 0.52), _row("copa", "all", 2, "pretuned", 0.48),
        _row("copa", "all", 3, "base", 0.9),  # no partner: left out
        _row("cr", "8", 0, "base", 0.5), _row("cr", "8", 0, "pretuned", 0.502),
        _row("cr", "8", 1, "base", 0.5), _row("cr", "8", 1, "pretuned", 0.498),
        _row("cr", "16", 0, "base", 0.7), _row("cr", "16", 0, "pretuned", 0.8, leaked=1),
    ]  # fmt: skip
    copa, cr8, cr16 = compare(rows)  # by target, then size as a number
    assert (copa.target, cr8.size, cr16.size) == ("copa", "8", "16")
    assert copa.seeds == 3 and copa.base == pytest.approx((0.55 + 0.60 + 0.52) / 3)
    assert copa.verdict == "loss"
    assert cr8.verdict == "no difference" and cr8.at_baseline
    assert cr16.verdict == "one seed" and cr16.leaked and not cr16.at_baseline
    text = table(rows)
    assert "both at the majority label" in text and "LEAK" in text
    assert text.splitlines()[-1].startswith(
        "significant gain in 0 of 3 cells, significant loss in 1"
    )
