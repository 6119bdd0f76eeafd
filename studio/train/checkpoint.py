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
`tidy` removes. A full disk is checked for before a save (the newest checkpoint's size is what
the next one needs) and recognised during one, however the writer reports it: DiskFull, and
nothing of the save left behind.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import random
import re
import secrets
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from studio.core.errors import DATA_CHANGED, StudioError
from studio.core.files import DiskFull, disk_full, disk_full_message, free_bytes
from studio.train.model import MultiTaskModel
from studio.train.task_embedding import KEY as TASK_VECTORS

log = logging.getLogger(__name__)

STEP_DIR = re.compile(r"^step-(\d+)$")
STATE_FILE = "trainer_state.json"
MANIFEST = "manifest.json"
# What load_checkpoint reads; scaler.pt is optional (fp16 runs only).
NEEDED = ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng.safetensors", STATE_FILE)
# Folders that are not (yet, or any more) checkpoints: a save or a delete that was cut short.
TEMPORARY = (".tmp-step-", ".pruning-")
# The pickled files, loaded with torch.load(weights_only=True); scaler.pt only in fp16 runs.
PICKLED = ("optimizer.pt", "scheduler.pt", "scaler.pt")
# What a checkpoint holds besides the model's and the optimizer's tensors (tokenizer, configs,
# trainer state), for the estimate of the first one's size.
EXTRAS_BYTES = 20 << 20
# "Unsupported global: GLOBAL fractions.Fraction was not an allowed global": what was refused.
_REFUSED_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")


class CheckpointError(StudioError):
    """A checkpoint cannot be loaded; the message names its folder."""


class UnsafeCheckpoint(CheckpointError):
    """torch.load(weights_only=True) refused a file of the checkpoint: it holds more than
    tensors and plain containers, which no checkpoint the studio writes does. Damaged (or
    replaced), never to be loaded with the protection off."""


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


def refused_problem(folder: Path) -> str | None:
    """Why torch.load(weights_only=True) refuses one of the checkpoint's pickled files, or None.

    Unlike checkpoint_problem this reads the files whole: it is for the one checkpoint a resume
    is about to load, so that a refused one is passed over for the one before, as a damaged one
    is, instead of failing the run once the model is built.
    """
    for name in PICKLED:
        if not (folder / name).is_file():
            continue
        try:
            torch.load(folder / name, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as e:
            return _refused(name, e)
        except (OSError, RuntimeError, EOFError, ValueError) as e:
            return f"{name} cannot be read ({e})"
    return None


def resumable(root: Path) -> tuple[dict[int, Path], dict[int, str]]:
    """The checkpoints a resume may choose from, the newest one whose files torch.load accepts
    last; and what is wrong with the others (damaged, or newer ones refused as unsafe)."""
    found = complete_checkpoints(root)
    problems = damaged_checkpoints(root)
    for step in sorted(found, reverse=True):
        refused = refused_problem(found[step])
        if refused is None:
            break
        problems[step] = f"{found.pop(step)}: {refused}"
    return found, problems


def _refused(name: str, exc: pickle.UnpicklingError) -> str:
    """What torch refused, in our words: its own advice is to turn the protection off."""
    found = _REFUSED_GLOBAL.search(str(exc))
    what = found.group(1) if found else "objects of other kinds"
    return (
        f"{name} was refused as unsafe: it holds {what}, not only the tensors and plain "
        "containers the studio writes (was it replaced?)"
    )


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


def checkpoint_size(root: Path, model: torch.nn.Module, optimizer: Any) -> int:
    """About how many bytes the next checkpoint under `root` takes: as many as the newest one,
    else the model's and the optimizer's tensors plus tokenizer and configs; with a margin."""
    found = complete_checkpoints(root)
    if found:
        size = sum(f.stat().st_size for f in found[max(found)].rglob("*") if f.is_file())
    else:
        size = _tensor_bytes(model.state_dict()) + _tensor_bytes(optimizer.state_dict())
        size += EXTRAS_BYTES
    return int(size * 1.05) + (1 << 20)


def _tensor_bytes(value: Any) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, Mapping):
        return sum(_tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


def make_room(root: Path, step: int, keep_last: int, needed: int) -> list[int]:
    """Before the save of `step`: delete the checkpoints the prune after it would delete anyway;
    return their steps.

    So the disk holds at most `keep_last` checkpoints and the best at any moment, not one more.
    The newest stays, unless keeping one (`keep_last` 1) leaves no room for the new one beside
    it: a kill or a full disk during the save then still leaves a checkpoint to resume from.
    Checkpoints of `step` and later (left by the run before it resumed from an earlier one)
    are neither counted nor deleted here.
    """
    removed = prune(root, max(keep_last - 1, 1), before=step)
    if keep_last == 1 and not _has_room(root, needed):
        removed += prune(root, 0, before=step)
    return removed


def _has_room(root: Path, needed: int) -> bool:
    free = free_bytes(root)
    return free is None or free >= needed


def _no_room(root: Path, step: int, needed: int) -> DiskFull:
    return DiskFull(
        f"cannot save the checkpoint of update {step}: "
        + disk_full_message(root, needed, "a checkpoint")
        + ". Free some space, then resume the run: it continues from its last checkpoint."
    )


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
    """Write step-<step>/ atomically: into a temporary folder, then one rename.

    DiskFull, before writing anything when the disk has less free than the checkpoint needs
    (see checkpoint_size), and when a write fills it however the writer says so (torch.save's
    "unexpected pos", a SafetensorError); the temporary folder is removed either way.
    """
    root.mkdir(parents=True, exist_ok=True)
    needed = checkpoint_size(root, model, optimizer)
    if not _has_room(root, needed):
        raise _no_room(root, step, needed)
    tmp = root / f"{TEMPORARY[0]}{step}-{secrets.token_hex(4)}"
    try:
        tmp.mkdir(mode=0o700)  # as mkdtemp would: its files are the run's own until exported
        saved = (model, optimizer, scheduler, scaler, state, tokenizer)
        return _write_checkpoint(root, tmp, step, *saved)
    except Exception as exc:
        if not disk_full(exc, root):  # asked before the partial files go: they filled it
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        raise _no_room(root, step, needed) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_checkpoint(
    root: Path,
    tmp: Path,
    step: int,
    model: MultiTaskModel,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    state: dict[str, Any],
    tokenizer: Any,
) -> Path:
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


def load_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, scaler: Any
) -> dict[str, Any]:
    """Restore model, optimizer, schedule, scaler and RNGs in place; return the trainer state.

    CheckpointError, naming the folder, when a file cannot be read.
    """
    try:
        load_model(model, str(folder / "model.safetensors"))
        optimizer.load_state_dict(_load_pickled(folder, "optimizer.pt"))
        scheduler.load_state_dict(_load_pickled(folder, "scheduler.pt"))
        if scaler is not None and (folder / "scaler.pt").is_file():
            scaler.load_state_dict(_load_pickled(folder, "scaler.pt"))
        state = read_state(folder)
        set_rng_state(load_file(str(folder / "rng.safetensors")), state.pop("rng"))
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as e:
        raise CheckpointError(f"the checkpoint {folder} cannot be loaded: {e}") from e
    return state


def _load_pickled(folder: Path, name: str) -> Any:
    """torch.load with the protection on; a refusal is an UnsafeCheckpoint, without torch's
    advice to turn the protection off (and without its message as the cause, which holds it)."""
    try:
        return torch.load(folder / name, weights_only=True)
    except pickle.UnpicklingError as e:
        message = f"the checkpoint {folder} cannot be loaded: {_refused(name, e)}"
    raise UnsafeCheckpoint(message) from None


def read_state(folder: Path) -> dict[str, Any]:
    return json.loads((folder / STATE_FILE).read_text())


def split_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A checkpoint's weights as (backbone, heads), each without its prefix in model.safetensors
    ("encoder.", "heads."); the task embedding, if the run had one, goes with the heads under
    its own full name (train/task_embedding.py KEY)."""
    backbone: dict[str, torch.Tensor] = {}
    heads: dict[str, torch.Tensor] = {}
    parts = {"encoder": backbone, "heads": heads}
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        for key in f.keys():  # noqa: SIM118 - safe_open is not a dict
            prefix, dot, name = key.partition(".")
            if dot and prefix in parts:
                parts[prefix][name] = f.get_tensor(key)
            elif key == TASK_VECTORS:
                heads[key] = f.get_tensor(key)
    return backbone, heads


def prune(root: Path, keep_last: int, before: int | None = None) -> list[int]:
    """Delete all but the newest `keep_last` checkpoints (0: none) and the best one; return what
    went. With `before`, only the checkpoints of earlier steps count, and only they may go.

    Best is the highest `eval_mean` among checkpoints that were validated. Damaged
    checkpoints are neither counted nor deleted: messages name them, a user decides.
    """
    found = complete_checkpoints(root)
    if before is not None:
        found = {s: p for s, p in found.items() if s < before}
    keep = set(list(found)[-keep_last:] if keep_last > 0 else [])
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
