"""What a tuning study answers: its trials, the best one and the settings' importances (the
`tune` job's result, `tune --json`, the Tuning section). Kept apart from the study format so
the job protocol does not import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrialRow:
    """One trial of a study as `tune --json` and the window show it: Optuna's number and state
    (complete, pruned, fail, running, waiting), its settings, its value and its run."""

    number: int
    state: str
    params: dict[str, Any]
    value: float | None = None
    run_id: str | None = None
    interrupted: bool = False  # its process was killed; a later trial continued its run


@dataclass(frozen=True)
class StudySummary:
    """A study's trials, its best one (None before any completes) and, once Optuna can
    tell, how much each setting mattered to the objective (summing to 1)."""

    name: str
    run_id: str  # the study's own run in the store (kind `tune`)
    storage: str  # Optuna's SQLite file
    trials: tuple[TrialRow, ...] = ()
    best: TrialRow | None = None
    importances: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """`tune --json`'s shape: the trials, the best, then the rest."""

        def row(t: TrialRow) -> dict[str, Any]:
            out = {"number": t.number, "state": t.state, "params": t.params, "value": t.value}
            return out | {"run_id": t.run_id} | ({"interrupted": True} if t.interrupted else {})

        return {
            "trials": [row(t) for t in self.trials],
            "best": row(self.best) if self.best is not None else None,
            "study": self.name,
            "run_id": self.run_id,
            "storage": self.storage,
            "importances": dict(self.importances),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudySummary:
        def row(d: dict[str, Any]) -> TrialRow:
            return TrialRow(
                int(d["number"]), str(d["state"]), dict(d.get("params") or {}),
                d.get("value"), d.get("run_id"), bool(d.get("interrupted")),
            )  # fmt: skip

        best = data.get("best")
        return cls(
            str(data.get("study", "")), str(data.get("run_id", "")), str(data.get("storage", "")),
            tuple(row(t) for t in data.get("trials") or ()), row(best) if best else None,
            {str(k): float(v) for k, v in (data.get("importances") or {}).items()},
        )  # fmt: skip

    def best_so_far(self) -> list[tuple[int, float]]:
        """(trial number, the best value up to it) at each completed trial, for a curve."""
        points: list[tuple[int, float]] = []
        for t in sorted(self.trials, key=lambda t: t.number):
            if t.state == "complete" and t.value is not None:
                best = max(t.value, points[-1][1]) if points else t.value
                points.append((t.number, best))
        return points

    def text(self) -> str:
        """The trials as a table, then the best settings: what `results STUDY` prints."""
        keys = sorted({k for t in self.trials for k in t.params})
        lines = [f"study {self.name} ({self.run_id}), {len(self.trials)} trials"]
        lines.append(
            "  ".join([f"{'#':>4}", f"{'state':<9}", f"{'value':>8}", f"{'run':<22}", *keys])
        )
        for t in self.trials:
            value = "" if t.value is None else f"{t.value:.4f}"
            state = t.state + ("*" if t.interrupted else "")
            cells = [_short(t.params.get(k)) for k in keys]
            lines.append(
                "  ".join(
                    [
                        f"{t.number:>4}",
                        f"{state:<9}",
                        f"{value:>8}",
                        f"{t.run_id or '':<22}",
                        *cells,
                    ]
                )
            )
        if any(t.interrupted for t in self.trials):
            lines.append("* interrupted: a later trial continued its run")
        if self.best is None:
            lines.append("no trial has completed yet")
        else:
            best = self.best
            lines.append(
                f"best: trial {best.number}, value {_short(best.value)}, run {best.run_id}"
            )
            lines += [f"  {k}: {_short(v)}" for k, v in self.best.params.items()]
        if self.importances:
            lines.append(
                "importance: " + ", ".join(f"{k} {v:.2f}" for k, v in self.importances.items())
            )
        return "\n".join(lines)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)
