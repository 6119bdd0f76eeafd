"""Checkpoints: every state piece round-trips, writes are atomic, retention keeps last + best."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.config import RunConfig
from studio.core.sink import MemorySink
from studio.train import checkpoint as ckpt
from studio.train.loop import train
from studio.train.setup import Workspace
from tests.support import StopAt, series, tiny_config

pytestmark = pytest.mark.train

TASKS = ("synth_sentiment", "synth_regression", "synth_choice", "synth_span")


def _config(model: str, **changes: object) -> RunConfig:
    base = tiny_config(model, TASKS, max_steps=12, learning_rate=1e-3, eval_max_examples=30, seed=7)
    return base.replace(**changes)


@pytest.mark.parametrize("log_every", [1, 3])  # 3: the stop falls inside a logging window
def test_stop_then_resume_equals_a_straight_run(
    tiny_model: str, workspace: Workspace, tmp_path: Path, log_every: int
) -> None:
    config = _config(tiny_model, log_every=log_every)
    straight = MemorySink()
    train(config, straight, threading.Event(), workspace)

    stop = threading.Event()
    first = StopAt(stop, 5)
    result = train(config, first, stop, workspace, run_dir=tmp_path)
    assert (result.status, result.step) == ("stopped", 5)
    saved = ckpt.complete_checkpoints(tmp_path / "checkpoints")
    assert list(saved) == [5]
    second = MemorySink()
    result = train(config, second, threading.Event(), workspace, run_dir=tmp_path, resume=saved[5])
    assert (result.status, result.step) == ("finished", 12)

    for name, task in [
        ("total_loss", None),
        ("grad_norm", None),
        ("lr", None),
        ("loss", "synth_span"),
        ("share", "synth_choice"),
    ]:
        expected = series(straight, name, task)
        got = series(first, name, task) | series(second, name, task)
        # No step lost; the stop also logs the updates since its last log point.
        assert sorted(got) == sorted({*expected, 5}), name
        for step in expected:
            assert got[step] == pytest.approx(expected[step], rel=1e-4, abs=1e-6), (name, step)


def test_every_state_piece_round_trips(
    tiny_model: str, workspace: Workspace, tmp_path: Path
) -> None:
    stop = threading.Event()
    train(_config(tiny_model, max_steps=20), StopAt(stop, 4), stop, workspace, run_dir=tmp_path)
    folder = ckpt.complete_checkpoints(tmp_path / "checkpoints")[4]
    names = {p.name for p in folder.iterdir()}
    assert {
        "model.safetensors",
        "optimizer.pt",
        "scheduler.pt",
        "rng.safetensors",
        "trainer_state.json",
        "encoder",
        "tokenizer",
    } <= names
    for name in ("optimizer.pt", "scheduler.pt"):
        torch.load(folder / name, weights_only=True)  # no arbitrary pickle needed
    optimizer = torch.load(folder / "optimizer.pt", weights_only=True)
    assert optimizer["state"] and all(s["step"] == 4 for s in optimizer["state"].values())
    assert torch.load(folder / "scheduler.pt", weights_only=True)["last_epoch"] == 4
    state = json.loads((folder / "trainer_state.json").read_text())
    assert state["step"] == 4 and state["scheduler"]["step"] == 4
    assert set(state["streams"]) == set(TASKS)
    assert sum(s["position"] for s in state["streams"].values()) == 4 * 2
    assert sum(state["seen"].values()) == 4 * 2 * 8
    assert set(state["rng"]) == {"python", "numpy"}


def test_rng_states_round_trip() -> None:
    torch.manual_seed(3)
    random.seed(3)
    np.random.seed(3)
    tensors, plain = ckpt.rng_state()
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(99)
    random.seed(99)
    np.random.seed(99)
    ckpt.set_rng_state(tensors, json.loads(json.dumps(plain)))
    got = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]


@pytest.fixture(scope="module")
def saved(tiny_model: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkpoints of updates 2, 4 and 6 of a short run (copy before damaging them)."""
    from studio.core.tasks import default_tasks_dir, load_catalog

    folder = tmp_path_factory.mktemp("run")
    config = _config(tiny_model, max_steps=6, checkpoint_every=2, keep_checkpoints=5)
    ws = Workspace.default(load_catalog(default_tasks_dir()), None)
    train(config, MemorySink(), threading.Event(), ws, run_dir=folder)
    return folder / "checkpoints"


@pytest.fixture
def root(saved: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(saved, tmp_path / "checkpoints"))


def test_half_written_and_half_deleted_folders_are_not_checkpoints(root: Path) -> None:
    (root / ".tmp-step-9-abc").mkdir()  # a kill mid-save leaves only a temporary folder
    (root / "step-8").mkdir()  # not written by the studio: nothing a loader needs
    assert list(ckpt.complete_checkpoints(root)) == [2, 4, 6]
    assert "model.safetensors is missing" in ckpt.damaged_checkpoints(root)[8]
    assert ckpt.tidy(root) == [".tmp-step-9-abc"]
    ckpt.discard(root / "step-2")  # renamed away first: never a half-deleted step-2
    assert sorted(p.name for p in root.iterdir()) == ["step-4", "step-6", "step-8"]


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda f: f.joinpath("model.safetensors").write_bytes(
            f.joinpath("model.safetensors").read_bytes()[:1000]), "truncated"),
        (lambda f: f.joinpath("optimizer.pt").unlink(), "optimizer.pt is missing"),
        (lambda f: f.joinpath("trainer_state.json").write_text(
            "x" * f.joinpath("trainer_state.json").stat().st_size), "cannot be read"),
        (lambda f: f.joinpath("manifest.json").unlink() or f.joinpath("rng.safetensors")
            .write_bytes(b"\xff" * 64), "rng.safetensors cannot be read"),
    ],
    ids=["truncated model", "missing optimizer", "garbage state", "old, garbage rng"],
)  # fmt: skip
def test_a_damaged_checkpoint_is_named_and_skipped_by_prune_and_best(
    root: Path, damage: object, problem: str
) -> None:
    damage(root / "step-6")  # type: ignore[operator]
    assert list(ckpt.complete_checkpoints(root)) == [2, 4]
    damaged = ckpt.damaged_checkpoints(root)
    assert list(damaged) == [6] and str(root / "step-6") in damaged[6] and problem in damaged[6]
    assert ckpt.best_step(ckpt.complete_checkpoints(root)) in (2, 4)
    assert ckpt.prune(root, keep_last=1) in ([2], [])  # the best of 2 and 4 stays
    assert (root / "step-6").is_dir()  # a damaged checkpoint is for the user to look at


def test_retention_keeps_the_last_and_the_best(
    tiny_model: str, workspace: Workspace, tmp_path: Path
) -> None:
    sink = MemorySink()
    config = _config(
        tiny_model,
        max_steps=10,
        checkpoint_every=2,
        keep_checkpoints=2,
        log_every=2,
        eval_max_examples=20,
    )
    train(config, sink, threading.Event(), workspace, run_dir=tmp_path)
    found = ckpt.complete_checkpoints(tmp_path / "checkpoints")
    means = {
        s: ckpt.read_state(ckpt.step_dir(tmp_path / "checkpoints", s))["eval_mean"] for s in found
    }
    assert {8, 10} <= set(found) and len(found) <= 3
    logged = {r.step: r.value for r in sink.rows if r.name == "eval_mean"}
    best = max(logged, key=lambda s: (logged[s], s))
    assert best in found and means[best] == pytest.approx(logged[best])
    assert sorted(s for s, _, _ in sink.checkpoints) == sorted(found)  # sink told of removals
