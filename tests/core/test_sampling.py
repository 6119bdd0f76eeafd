"""Task sampling probabilities, apportioning, and the per-update task scheduler."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter

import pytest

from studio.core.mixing.sampling import TaskScheduler, apportion, task_probabilities

SIZES = {"a": 100, "b": 400, "c": 1600, "d": 6400}
# Unequal shares, none reaching 0.5: the Muppet regime (many tasks, none dominant).
PROBS = {"mnli": 0.4, "sst2": 0.3, "rte": 0.2, "cola": 0.1}


def test_proportional() -> None:
    total = sum(SIZES.values())
    probs = task_probabilities(SIZES, "proportional")
    assert probs == pytest.approx({t: n / total for t, n in SIZES.items()})


@pytest.mark.parametrize("temperature", [1.0, 2.0, 3.0, 0.5])
def test_temperature_is_n_to_the_one_over_t(temperature: float) -> None:
    probs = task_probabilities(SIZES, "temperature", temperature=temperature)
    weights = {t: n ** (1 / temperature) for t, n in SIZES.items()}
    total = sum(weights.values())
    assert probs == pytest.approx({t: w / total for t, w in weights.items()}, rel=1e-12)


def test_temperature_two_by_hand() -> None:
    probs = task_probabilities({"x": 100, "y": 400, "z": 1600}, "temperature", temperature=2.0)
    assert probs == pytest.approx({"x": 1 / 7, "y": 2 / 7, "z": 4 / 7}, rel=1e-12)


def test_temperature_one_equals_proportional() -> None:
    assert task_probabilities(SIZES, "temperature", temperature=1.0) == pytest.approx(
        task_probabilities(SIZES, "proportional")
    )


def test_uniform() -> None:
    probs = task_probabilities(SIZES, "uniform")
    assert probs == pytest.approx({t: 0.25 for t in SIZES})


def test_examples_cap_is_min_n_k() -> None:
    probs = task_probabilities(SIZES, "proportional", cap=1000)
    capped = {"a": 100, "b": 400, "c": 1000, "d": 1000}
    assert probs == pytest.approx({t: n / 2500 for t, n in capped.items()})
    temp = task_probabilities(SIZES, "temperature", temperature=2.0, cap=1000)
    weights = {t: math.sqrt(n) for t, n in capped.items()}
    assert temp == pytest.approx({t: w / sum(weights.values()) for t, w in weights.items()})
    # A cap above every size changes nothing.
    assert task_probabilities(SIZES, "proportional", cap=10**9) == pytest.approx(
        task_probabilities(SIZES, "proportional")
    )


def test_probabilities_edge_cases() -> None:
    assert task_probabilities({}, "proportional") == {}
    assert task_probabilities({"a": 0, "b": 0}, "proportional") == {"a": 0.5, "b": 0.5}
    assert sum(task_probabilities(SIZES, "temperature", temperature=7.0).values()) == (
        pytest.approx(1.0)
    )
    with pytest.raises(ValueError, match="mode"):
        task_probabilities(SIZES, "annealed")


@pytest.mark.parametrize("total", [0, 1, 7, 100, 999, 1001])
def test_apportion_sums_to_total(total: int) -> None:
    rng = random.Random(total)
    for _ in range(20):
        weights = {f"t{i}": rng.random() for i in range(rng.randrange(1, 12))}
        probs = {t: w / sum(weights.values()) for t, w in weights.items()}
        counts = apportion(probs, total)
        assert sum(counts.values()) == total
        assert set(counts) == set(probs)
        for t, p in probs.items():
            assert abs(counts[t] - p * total) < 1, (t, counts[t], p * total)


def test_apportion_exact_shares() -> None:
    assert apportion({"a": 0.5, "b": 0.25, "c": 0.25}, 8) == {"a": 4, "b": 2, "c": 2}
    assert apportion({"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4}, 10) == {
        "a": 1,
        "b": 2,
        "c": 3,
        "d": 4,
    }


def _run(scheduler: TaskScheduler, updates: int) -> list[list[str]]:
    return [scheduler.next_update() for _ in range(updates)]


def _shares(updates: list[list[str]]) -> dict[str, float]:
    counts = Counter(itertools.chain.from_iterable(updates))
    total = sum(counts.values())
    return {t: c / total for t, c in counts.items()}


def test_heterogeneous_shares_and_mixed_updates() -> None:
    updates = _run(TaskScheduler(PROBS, "heterogeneous", slots=4, max_steps=4000, seed=1), 4000)
    assert all(len(u) == 4 for u in updates)
    shares = _shares(updates)
    for task, p in PROBS.items():
        assert abs(shares.get(task, 0.0) - p) < 0.01, (task, shares.get(task), p)
    distinct = [len(set(u)) for u in updates]
    # No task has p >= 0.5, so no task can fill more than half the slots of an update.
    assert min(distinct) >= 2
    # ... and updates really mix: most hold three or more tasks (expected ~3.2 here).
    assert sum(distinct) / len(distinct) > 2.8
    assert max(Counter(u).most_common(1)[0][1] for u in updates) <= 2


def test_heterogeneous_many_small_tasks_fill_every_slot_with_a_new_task() -> None:
    sizes = {f"t{i}": 100 * (i + 1) for i in range(12)}
    probs = task_probabilities(sizes, "proportional")
    assert max(probs.values()) <= 1 / 4
    updates = _run(TaskScheduler(probs, "heterogeneous", slots=4, max_steps=2000, seed=3), 2000)
    assert all(len(set(u)) == 4 for u in updates)
    shares = _shares(updates)
    for task, p in probs.items():
        assert abs(shares.get(task, 0.0) - p) < 0.01, task


def test_heterogeneous_dominant_task() -> None:
    probs = {"big": 0.7, "small": 0.3}
    updates = _run(TaskScheduler(probs, "heterogeneous", slots=4, max_steps=2000, seed=5), 2000)
    shares = _shares(updates)
    assert abs(shares["big"] - 0.7) < 0.01
    assert all(2 <= u.count("big") <= 3 for u in updates)  # slots * p = 2.8


def test_homogeneous_single_task_updates() -> None:
    updates = _run(TaskScheduler(PROBS, "homogeneous", slots=4, max_steps=4000, seed=2), 4000)
    assert all(len(u) == 4 and len(set(u)) == 1 for u in updates)
    shares = _shares(updates)
    for task, p in PROBS.items():
        assert abs(shares.get(task, 0.0) - p) < 0.03, (task, shares.get(task), p)
    assert len({u[0] for u in updates[:50]}) > 1  # tasks do vary from update to update


@pytest.mark.parametrize("max_steps", [1000, 37])
def test_sequential_contiguous_blocks_in_config_order(max_steps: int) -> None:
    probs = {"rte": 0.15, "mnli": 0.5, "sst2": 0.35}
    updates = _run(
        TaskScheduler(probs, "sequential", slots=3, max_steps=max_steps, seed=0), max_steps
    )
    assert all(len(u) == 3 and len(set(u)) == 1 for u in updates)
    blocks = [(task, len(list(group))) for task, group in itertools.groupby(u[0] for u in updates)]
    expected = apportion(probs, max_steps)
    assert blocks == [(t, expected[t]) for t in probs if expected[t] > 0]


def test_sequential_skips_tasks_with_no_updates() -> None:
    probs = {"a": 0.01, "b": 0.99}
    updates = _run(TaskScheduler(probs, "sequential", slots=1, max_steps=10, seed=0), 10)
    assert [u[0] for u in updates] == ["b"] * 10


@pytest.mark.parametrize("mode", ["heterogeneous", "homogeneous", "sequential"])
def test_state_dict_resumes_the_same_sequence(mode: str) -> None:
    first = TaskScheduler(PROBS, mode, slots=4, max_steps=200, seed=11)
    _run(first, 57)
    state = json.loads(json.dumps(first.state_dict()))
    expected = _run(first, 100)

    resumed = TaskScheduler(PROBS, mode, slots=4, max_steps=200, seed=999)
    resumed.load_state_dict(state)
    assert resumed.step == 57
    assert _run(resumed, 100) == expected


@pytest.mark.parametrize("mode", ["heterogeneous", "homogeneous"])
def test_same_seed_same_sequence(mode: str) -> None:
    a = _run(TaskScheduler(PROBS, mode, slots=4, max_steps=100, seed=7), 100)
    b = _run(TaskScheduler(PROBS, mode, slots=4, max_steps=100, seed=7), 100)
    c = _run(TaskScheduler(PROBS, mode, slots=4, max_steps=100, seed=8), 100)
    assert a == b
    assert a != c


def test_unknown_mixing_mode() -> None:
    with pytest.raises(ValueError, match="mixing"):
        TaskScheduler(PROBS, "interleaved", slots=4, max_steps=10, seed=0).next_update()
