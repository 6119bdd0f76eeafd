"""The data path may change, the training must not: short runs of every format log the losses
and validation metrics recorded in `golden.json` (written by the in-memory data path that
held every tokenized split as Python lists, before features moved to memory-mapped Arrow).

`python -m tests.train.test_golden` records the values again (only for a deliberate change).
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from studio.core.sink import WALL_CLOCK, MemorySink
from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.train.loop import train
from studio.train.setup import Workspace
from tests.support import save_tiny_bart, save_tiny_bert, tiny_config

pytestmark = pytest.mark.train

GOLDEN = Path(__file__).with_name("golden.json")
ENCODER_TASKS = ("synth_sentiment", "synth_pair", "synth_regression", "synth_choice", "synth_span")
RUNS = {
    "encoder": ("bert", ENCODER_TASKS),
    "seq2seq": ("bart", ("synth_summary", "synth_topic", "synth_choice")),
}


def run(kind: str, model: str, workspace: Workspace) -> dict[str, list[float]]:
    tasks = RUNS[kind][1]
    config = tiny_config(
        model, tasks, max_steps=6, log_every=1, eval_every=3, tasks_per_update=2,
        learning_rate=1e-3, seed=3, max_target_length=16,
        pooling="first",  # as recorded: RoBERTa's first-token head
    )  # fmt: skip
    sink = MemorySink()
    result = train(config, sink, threading.Event(), workspace)
    assert result.status == "finished"
    values: dict[str, list[float]] = {}
    for row in sink.rows:
        if row.name in WALL_CLOCK | {"lr", "grad_norm"}:
            continue  # wall-clock figures, and values the losses already pin down
        values.setdefault(f"{row.task or '-'}/{row.name}", []).append(row.value)
    return values


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_runs_log_the_recorded_values(
    kind: str, tiny_model: str, tiny_bart: str, workspace: Workspace
) -> None:
    expected = json.loads(GOLDEN.read_text())[kind]
    model = tiny_model if RUNS[kind][0] == "bert" else tiny_bart
    logged = run(kind, model, workspace)
    assert sorted(logged) == sorted(expected)
    for key, values in expected.items():
        # Losses agree to float32 rounding; a validation metric of 20 predictions (a Pearson
        # correlation, say) moves further with the last bits the CPU's kernels round, which
        # differ between machines. A changed data path moves either by far more.
        slack = 1e-4 if "/eval_" in key else 1e-6
        assert logged[key] == pytest.approx(values, rel=1e-5, abs=slack), key


def record() -> None:
    """Write golden.json from the current code (run from the checkout's root)."""
    import os

    home = Path(tempfile.mkdtemp())
    os.environ["STUDIO_HOME"] = str(home)
    workspace = Workspace(load_catalog(default_tasks_dir()), None, home / "cache", home / "s")
    models = {"bert": save_tiny_bert(home / "bert"), "bart": save_tiny_bart(home / "bart")}
    golden = {kind: run(kind, models[arch], workspace) for kind, (arch, _) in RUNS.items()}
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    sys.stderr.write(f"wrote {GOLDEN}\n")


if __name__ == "__main__":
    record()
