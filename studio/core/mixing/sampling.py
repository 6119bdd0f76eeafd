"""Task sampling: which tasks each optimizer update draws its sub-batches from."""

from __future__ import annotations

import math
import random
from typing import Any


def task_probabilities(
    sizes: dict[str, int], mode: str, temperature: float = 1.0, cap: int | None = None
) -> dict[str, float]:
    """p_i ∝ min(n_i, cap) (proportional), ∝ min(n_i, cap)^(1/T) (temperature) or uniform."""
    if not sizes:
        return {}
    capped = {t: float(min(n, cap) if cap else n) for t, n in sizes.items()}
    if mode == "uniform":
        weights = {t: 1.0 for t in capped}
    elif mode == "temperature":
        weights = {t: n ** (1.0 / temperature) for t, n in capped.items()}
    elif mode == "proportional":
        weights = capped
    else:
        raise ValueError(f"unknown sampling mode {mode!r}")
    total = sum(weights.values())
    if total <= 0:
        return {t: 1.0 / len(weights) for t in weights}
    return {t: w / total for t, w in weights.items()}


def apportion(probs: dict[str, float], total: int) -> dict[str, int]:
    """Split `total` into integer counts proportional to `probs` (largest remainder)."""
    exact = {t: p * total for t, p in probs.items()}
    counts = {t: math.floor(x) for t, x in exact.items()}
    left = total - sum(counts.values())
    for t in sorted(exact, key=lambda t: exact[t] - counts[t], reverse=True)[:left]:
        counts[t] += 1
    return counts


class TaskScheduler:
    """Decides, update by update, the task of each of the `slots` sub-batches.

    heterogeneous: systematic (Madow) sampling, so each task's expected number of slots per
    update is exactly slots * p, while one update holds as many distinct tasks as possible.
    homogeneous: one task per update, drawn from p. sequential: tasks one after another, each
    for its share of `max_steps` updates, in the order given.
    """

    def __init__(
        self, probs: dict[str, float], mode: str, slots: int, max_steps: int, seed: int
    ) -> None:
        self.tasks = list(probs)
        self.probs = probs
        self.mode = mode
        self.slots = slots
        self.rng = random.Random(seed)
        self.step = 0
        counts = apportion(probs, max_steps)
        self.blocks = [(t, counts[t]) for t in self.tasks if counts[t] > 0]

    def next_update(self) -> list[str]:
        self.step += 1
        if self.mode == "heterogeneous":
            return self._systematic()
        if self.mode == "homogeneous":
            task = self.rng.choices(self.tasks, weights=[self.probs[t] for t in self.tasks])[0]
            return [task] * self.slots
        if self.mode == "sequential":
            return [self._sequential_task(self.step)] * self.slots
        raise ValueError(f"unknown mixing mode {self.mode!r}")

    def _systematic(self) -> list[str]:
        order = self.tasks[:]
        self.rng.shuffle(order)
        start = self.rng.random()
        picked: list[str] = []
        cumulative = 0.0
        k = 0
        for task in order:
            cumulative += self.probs[task] * self.slots
            while k < self.slots and start + k < cumulative:
                picked.append(task)
                k += 1
        # Float round-off can leave the last slot unfilled.
        picked.extend(order[-1:] * (self.slots - len(picked)))
        return picked

    def _sequential_task(self, step: int) -> str:
        for task, count in self.blocks:
            if step <= count:
                return task
            step -= count
        return self.blocks[-1][0]

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "rng": _encode_state(self.rng.getstate())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.rng.setstate(_decode_state(state["rng"]))


def _encode_state(state: tuple[Any, ...]) -> list[Any]:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _decode_state(data: list[Any]) -> tuple[Any, ...]:
    version, internal, gauss = data
    return (version, tuple(internal), gauss)
