"""Checkpoints: the full training state, written atomically, kept by recency and by quality.

Layout of `checkpoints/step-<N>/`: `model.safetensors` (encoder and heads), `optimizer.pt`,
`scheduler.pt`, `scaler.pt` (fp16 only), `rng.safetensors` (torch RNG states), `encoder/`
(the base model's config; an encoder-decoder's generation config too), `tokenizer/`, and
`trainer_state.json` (step, samplers, window sums, Python and NumPy RNG states, validation
metrics). `.pt` files hold only tensors and plain containers, so they load with
`torch.load(weights_only=True)`. Tied weights (BART's shared embeddings and LM head) are
stored once: `save_model` / `load_model` handle the aliases.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

STEP_DIR = re.compile(r"^step-(\d+)$")
STATE_FILE = "trainer_state.json"


def step_dir(root: Path, step: int) -> Path:
    return root / f"step-{step}"


def complete_checkpoints(root: Path) -> dict[int, Path]:
    """Finished checkpoints under `root` by step; half-written temporary folders are ignored."""
    if not root.is_dir():
        return {}
    found = {}
    for child in root.iterdir():
        match = STEP_DIR.match(child.name)
        if match and (child / STATE_FILE).is_file():
            found[int(match.group(1))] = child
    return dict(sorted(found.items()))


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
    kind, keys, pos, has_gauss, cached = np.random.get_state()
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
    model: torch.nn.Module,
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
        _fsync_tree(tmp)
        final = step_dir(root, step)
        if final.exists():  # the same step saved again after a resume
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_tree(root)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_checkpoint(
    folder: Path, model: torch.nn.Module, optimizer: Any, scheduler: Any, scaler: Any
) -> dict[str, Any]:
    """Restore model, optimizer, schedule, scaler and RNGs in place; return the trainer state."""
    load_model(model, str(folder / "model.safetensors"))
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
    if scaler is not None and (folder / "scaler.pt").is_file():
        scaler.load_state_dict(torch.load(folder / "scaler.pt", weights_only=True))
    state = json.loads((folder / STATE_FILE).read_text())
    set_rng_state(load_file(str(folder / "rng.safetensors")), state.pop("rng"))
    return state


def read_state(folder: Path) -> dict[str, Any]:
    return json.loads((folder / STATE_FILE).read_text())


def prune(root: Path, keep_last: int) -> list[int]:
    """Delete all but the newest `keep_last` checkpoints and the best one; return what went.

    Best is the highest `eval_mean` among checkpoints that were validated.
    """
    found = complete_checkpoints(root)
    keep = set(list(found)[-keep_last:])
    scored = {s: read_state(p).get("eval_mean") for s, p in found.items()}
    scored = {s: v for s, v in scored.items() if v is not None}
    if scored:
        keep.add(max(scored, key=lambda s: (scored[s], s)))
    removed = [s for s in found if s not in keep]
    for s in removed:
        shutil.rmtree(found[s])
    return removed


def best_checkpoint(root: Path) -> Path | None:
    found = complete_checkpoints(root)
    scored = {s: read_state(p).get("eval_mean") for s, p in found.items()}
    scored = {s: v for s, v in scored.items() if v is not None}
    if not scored:
        return None
    return found[max(scored, key=lambda s: (scored[s], s))]
