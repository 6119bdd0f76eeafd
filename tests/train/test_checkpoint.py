"""Checkpoints: every state piece round-trips, writes are atomic, retention keeps last + best."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.core.config.run import RunConfig
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
    from studio.core.tasks.spec import default_tasks_dir, load_catalog

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


# -- a full disk ------------------------------------------------------------------------------


def _torch_save_fills_the_disk(obj: object, path: object, *args: object, **kwargs: object) -> None:
    Path(str(path)).write_bytes(b"PK\x03\x04half")  # what a write cut short leaves
    raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")


def _safetensors_fills_the_disk(*args: object, **kwargs: object) -> None:
    from safetensors import SafetensorError

    raise SafetensorError(
        "Error while serializing: I/O error: No space left on device (os error 28)"
    )


@pytest.mark.parametrize(
    ("writer", "replacement", "free"),
    [
        ("torch.save", _torch_save_fills_the_disk, 0),  # no errno: the empty disk tells
        ("save_model", _safetensors_fills_the_disk, 50 << 20),  # its words tell
    ],
)
def test_a_full_disk_during_a_save_is_named_and_leaves_no_partial_folder(
    tiny_model: str,
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    writer: str,
    replacement: object,
    free: int,
) -> None:
    from studio.core import files

    monkeypatch.setattr(ckpt, "free_bytes", lambda folder: 10 << 30)  # room enough, up front
    monkeypatch.setattr(files, "free_bytes", lambda folder: free)  # none once the write failed
    monkeypatch.setattr(
        torch if writer == "torch.save" else ckpt, writer.split(".")[-1], replacement
    )
    config = _config(tiny_model, max_steps=4, checkpoint_every=2)
    with pytest.raises(files.DiskFull) as caught:
        train(config, MemorySink(), threading.Event(), workspace, run_dir=tmp_path)
    message = str(caught.value)
    assert f"checkpoint of update 2: the disk holding {tmp_path / 'checkpoints'} is full" in message
    assert f"({files.human_bytes(free)} free; a checkpoint needs about " in message
    assert "inline_container" not in message and "os error" not in message
    assert list((tmp_path / "checkpoints").iterdir()) == []  # no partial checkpoint folder


def test_a_save_the_disk_has_no_room_for_is_refused_before_writing(
    tiny_model: str, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.core import files

    for module in (ckpt, files):
        monkeypatch.setattr(module, "free_bytes", lambda folder: 4096)
    config = _config(tiny_model, max_steps=4, checkpoint_every=2)
    with pytest.raises(files.DiskFull, match=r"is full \(4.0 KB free; a checkpoint needs about"):
        train(config, MemorySink(), threading.Event(), workspace, run_dir=tmp_path)
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_old_checkpoints_are_pruned_before_a_save_not_after(
    tiny_model: str, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itertools

    from studio.train import loop

    decreasing = itertools.count()
    monkeypatch.setattr(loop, "mean_metric", lambda results, tasks: -float(next(decreasing)))
    real_save = loop.save_checkpoint
    before: list[list[int]] = []

    def save(root: Path, *args: object) -> Path:
        before.append(list(ckpt.complete_checkpoints(root)))
        return real_save(root, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "save_checkpoint", save)
    sink = MemorySink()
    config = _config(tiny_model, max_steps=10, checkpoint_every=2, keep_checkpoints=2)
    train(config, sink, threading.Event(), workspace, run_dir=tmp_path)
    # The first is the best throughout: kept, with the newest; so 2 on disk, never 3.
    assert before == [[], [2], [2, 4], [2, 6], [2, 8]]
    assert list(ckpt.complete_checkpoints(tmp_path / "checkpoints")) == [2, 8, 10]
    assert sorted(s for s, _, _ in sink.checkpoints) == [2, 8, 10]


def test_making_room_keeps_the_newest_and_the_best_and_the_newest_only_if_it_fits(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = ckpt.complete_checkpoints(root)
    early_best = ckpt.best_step({s: found[s] for s in (2, 4)})
    # Saving 6 again (a resume from 4): 6 is neither counted nor deleted.
    assert ckpt.make_room(root, 6, keep_last=2, needed=1) == sorted({2} - {early_best})
    assert 6 in ckpt.complete_checkpoints(root)
    left = ckpt.complete_checkpoints(root)
    best = ckpt.best_step(left)
    assert ckpt.make_room(root, 8, keep_last=2, needed=1) == sorted(set(left) - {6, best})
    assert set(ckpt.complete_checkpoints(root)) == {6, best}  # the newest and the best
    assert ckpt.make_room(root, 8, keep_last=1, needed=1) == []  # the newest stays if it fits
    monkeypatch.setattr(ckpt, "free_bytes", lambda folder: 0)
    ckpt.make_room(root, 8, keep_last=1, needed=1)  # no room for a new one beside the newest
    assert list(ckpt.complete_checkpoints(root)) == [best]


def test_a_file_torch_refuses_is_named_unsafe_without_torchs_advice(root: Path) -> None:
    import fractions

    folder = root / "step-6"
    torch.save(
        {"state": {}, "param_groups": [], "x": fractions.Fraction(1, 3)}, folder / "optimizer.pt"
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["optimizer.pt"] = (folder / "optimizer.pt").stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert ckpt.checkpoint_problem(folder) is None  # whole, and its zip directory reads
    problem = ckpt.refused_problem(folder)
    assert problem is not None
    assert "optimizer.pt was refused as unsafe: it holds fractions.Fraction" in problem
    assert "weights_only" not in problem and "safe_globals" not in problem
    assert ckpt.refused_problem(root / "step-4") is None
    with pytest.raises(ckpt.UnsafeCheckpoint) as caught:
        ckpt._load_pickled(folder, "optimizer.pt")
    assert "refused as unsafe" in str(caught.value) and "weights_only" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
