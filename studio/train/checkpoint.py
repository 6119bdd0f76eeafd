"""Checkpoints: the full training state, written atomically, kept by recency and by quality.

Layout of `checkpoints/step-<N>/`: `model.safetensors` (encoder and heads), `optimizer.pt`,
`scheduler.pt`, `scaler.pt` (fp16 only), `rng.safetensors` (torch RNG states), `encoder/`
(the base model's config; an encoder-decoder's generation config too), `tokenizer/`, and
`trainer_state.json` (step, samplers, running sums under "window", Python and NumPy RNG
states, validation metrics, each task's data size and fingerprint: see loop_state.LoopState),
and last `manifest.json`, every file's size.
`.pt` files hold only tensors and plain containers, so they load with
`torch.load(weights_only=True)`. Tied weights (BART's shared embeddings and LM head) are
stored once: `save_model` / `load_model` handle the aliases.

A checkpoint is usable when the files its loader needs are there, whole (the sizes in the
manifest; an older checkpoint without one by its files alone) and readable: anything else is
damaged, named with its problem, and skipped by resume, prune, best and export. Folders are
written under a temporary name and renamed into place, and deleted by renaming them away
first, so a kill at any moment leaves either a whole checkpoint or a temporary folder that
`tidy` removes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from studio.core.errors import DATA_CHANGED, StudioError
from studio.train.model import MultiTaskModel

log = logging.getLogger(__name__)

STEP_DIR = re.compile(r"^step-(\d+)$")
STATE_FILE = "trainer_state.json"
MANIFEST = "manifest.json"
# What load_checkpoint reads; scaler.pt is optional (fp16 runs only).
NEEDED = ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng.safetensors", STATE_FILE)
# Folders that are not (yet, or any more) checkpoints: a save or a delete that was cut short.
TEMPORARY = (".tmp-step-", ".pruning-")


class CheckpointError(StudioError):
    """A checkpoint cannot be loaded; the message names its folder."""


class DataChanged(StudioError):
    """A task's training data is not what the checkpoint's sampler positions belong to."""

    def __init__(self, folder: Path, changes: list[str]) -> None:
        self.changes = changes
        super().__init__(
            f"{DATA_CHANGED} {folder} was saved:\n  "
            + "\n  ".join(changes)
            + "\nIts sampler positions belong to the old data. Put the data back, or resume "
            "with --allow-data-change to continue on the new data."
        )


def data_changes(state: Mapping[str, Any], tasks: Mapping[str, Any]) -> list[str]:
    """How each task's training data (a TaskData) differs from a checkpoint's state."""
    sizes, prints = state.get("train_examples", {}), state.get("data", {})
    changes = []
    for name, data in tasks.items():
        then, now = sizes.get(name), data.train_examples
        if then is not None and then != now:
            changes.append(f"task {name}: {then:,} training examples then, {now:,} now")
        elif prints.get(name) and data.fingerprint and prints[name] != data.fingerprint:
            changes.append(f"task {name}: as many examples ({now:,}), other content")
    return changes


def step_dir(root: Path, step: int) -> Path:
    return root / f"step-{step}"


def _step_folders(root: Path) -> dict[int, Path]:
    if not root.is_dir():
        return {}
    found = {}
    for child in root.iterdir():
        match = STEP_DIR.match(child.name)
        if match and child.is_dir():
            found[int(match.group(1))] = child
    return dict(sorted(found.items()))


def complete_checkpoints(root: Path) -> dict[int, Path]:
    """Usable checkpoints under `root` by step; temporary and damaged folders are left out."""
    return {s: p for s, p in _step_folders(root).items() if checkpoint_problem(p) is None}


def damaged_checkpoints(root: Path) -> dict[int, str]:
    """Step folders under `root` that cannot be loaded, with what is wrong with each."""
    folders = _step_folders(root)
    return {s: f"{p}: {why}" for s, p in folders.items() if (why := checkpoint_problem(p))}


def checkpoint_problem(folder: Path) -> str | None:
    """Why the checkpoint in `folder` cannot be loaded, or None when it can.

    Cheap: sizes against the manifest, the safetensors headers, the zip directories of the
    .pt files and the trainer state; no tensor is read.
    """
    try:
        sizes = json.loads((folder / MANIFEST).read_text())["files"]
    except FileNotFoundError:
        sizes = {name: None for name in NEEDED}  # written before manifests: the files alone
    except (OSError, ValueError, KeyError, TypeError):
        return f"its {MANIFEST} cannot be read"
    for name, size in sizes.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if size is not None and path.stat().st_size != size:
            return f"{name} is {path.stat().st_size} bytes, {size} were written (truncated?)"
    try:
        state = read_state(folder)
        if not isinstance(state, dict) or "step" not in state:
            return f"{STATE_FILE} is not a trainer state"
    except (OSError, ValueError) as e:
        return f"{STATE_FILE} cannot be read ({e})"
    for name in ("model.safetensors", "rng.safetensors"):
        try:
            with safe_open(str(folder / name), framework="pt"):
                pass
        except (OSError, SafetensorError) as e:
            return f"{name} cannot be read ({e})"
    for name in ("optimizer.pt", "scheduler.pt"):
        try:
            zipfile.ZipFile(folder / name).close()
        except (OSError, zipfile.BadZipFile) as e:
            return f"{name} cannot be read ({e})"
    return None


def tidy(root: Path) -> list[str]:
    """Remove what saves and deletes cut short by a kill left under `root`; return the names.

    Only the process that owns the run may call this (a save in progress looks the same).
    """
    removed = []
    if root.is_dir():
        for child in root.iterdir():
            if child.name.startswith(TEMPORARY):
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child.name)
    return removed


def discard(folder: Path) -> None:
    """Delete a checkpoint folder: renamed away first, so no half-deleted step-N remains."""
    trash = folder.with_name(f"{TEMPORARY[1]}{folder.name}-{secrets.token_hex(3)}")
    os.replace(folder, trash)
    shutil.rmtree(trash)


def _fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Every RNG the run draws from: torch (CPU and CUDA) as tensors, Python and NumPy as JSON."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{i}"] = state
    version, internal, gauss = random.getstate()
    legacy = np.random.get_state()
    assert isinstance(legacy, tuple)  # legacy=True (the default): never the dict form
    kind, keys, pos, has_gauss, cached = legacy
    plain = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }
    return tensors, plain


def set_rng_state(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda_")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = plain["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = plain["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


def save_checkpoint(
    root: Path,
    step: int,
    model: MultiTaskModel,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    state: dict[str, Any],
    tokenizer: Any,
) -> Path:
    """Write step-<step>/ atomically: into a temporary folder, then one rename."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-step-{step}-", dir=root))
    try:
        save_model(model, str(tmp / "model.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        if scaler is not None:
            torch.save(scaler.state_dict(), tmp / "scaler.pt")
        tensors, plain = rng_state()
        save_file(tensors, str(tmp / "rng.safetensors"))
        model.encoder.config.save_pretrained(tmp / "encoder")
        if getattr(model, "seq2seq", False):  # decoder start, pad and end-of-sequence ids
            model.encoder.generation_config.save_pretrained(tmp / "encoder")
        tokenizer.save_pretrained(tmp / "tokenizer")
        (tmp / STATE_FILE).write_text(json.dumps({**state, "rng": plain}, indent=1))
        files = {
            str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        (tmp / MANIFEST).write_text(json.dumps({"files": files}, indent=1))
        _fsync_tree(tmp)
        final = step_dir(root, step)
        if final.exists():  # the same step saved again after a resume
            discard(final)
        os.replace(tmp, final)
        _fsync_tree(root)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, scaler: Any
) -> dict[str, Any]:
    """Restore model, optimizer, schedule, scaler and RNGs in place; return the trainer state.

    CheckpointError, naming the folder, when a file cannot be read.
    """
    try:
        load_model(model, str(folder / "model.safetensors"))
        optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
        if scaler is not None and (folder / "scaler.pt").is_file():
            scaler.load_state_dict(torch.load(folder / "scaler.pt", weights_only=True))
        state = read_state(folder)
        set_rng_state(load_file(str(folder / "rng.safetensors")), state.pop("rng"))
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as e:
        raise CheckpointError(f"the checkpoint {folder} cannot be loaded: {e}") from e
    return state


def read_state(folder: Path) -> dict[str, Any]:
    return json.loads((folder / STATE_FILE).read_text())


def split_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A checkpoint's weights as (backbone, heads), each without its prefix in model.safetensors
    ("encoder.", "heads.")."""
    backbone: dict[str, torch.Tensor] = {}
    heads: dict[str, torch.Tensor] = {}
    parts = {"encoder": backbone, "heads": heads}
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        for key in f.keys():  # noqa: SIM118 - safe_open is not a dict
            prefix, dot, name = key.partition(".")
            if dot and prefix in parts:
                parts[prefix][name] = f.get_tensor(key)
    return backbone, heads


def prune(root: Path, keep_last: int) -> list[int]:
    """Delete all but the newest `keep_last` checkpoints and the best one; return what went.

    Best is the highest `eval_mean` among checkpoints that were validated. Damaged
    checkpoints are neither counted nor deleted: messages name them, a user decides.
    """
    found = complete_checkpoints(root)
    keep = set(list(found)[-keep_last:])
    best = best_step(found)
    if best is not None:
        keep.add(best)
    removed = [s for s in found if s not in keep]
    for s in removed:
        discard(found[s])
    return removed


def best_step(found: dict[int, Path]) -> int | None:
    """The step of the best of the checkpoints `found` (highest `eval_mean`, the later one of
    equals); None when none was validated."""
    scored = {}
    for step, folder in found.items():
        try:
            value = read_state(folder).get("eval_mean")
        except (OSError, ValueError) as e:  # damaged since it was listed
            log.warning("skipping the checkpoint %s: %s", folder, e)
            continue
        if value is not None:
            scored[step] = value
    return max(scored, key=lambda s: (scored[s], s)) if scored else None
