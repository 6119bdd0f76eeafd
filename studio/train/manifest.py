"""Collecting a run's manifest (core.manifest) in the job process: the studio's version and
checkout, the libraries, the machine, each task's data, the seed and the resolved config. The
loops hand it to their sink once the data is loaded (Sink.manifest); the store keeps it."""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import platform
import re
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import torch

import studio
from studio.core.manifest import Manifest, TaskData
from studio.train.data.loading import TaskData as LoadedTask
from studio.train.precision import cpu_bf16_features
from studio.train.recipe import Recipe

log = logging.getLogger(__name__)

LIBRARIES = ("torch", "transformers", "datasets", "accelerate")


def collect_manifest(
    config: Mapping[str, Any],
    seed: int,
    tasks: Mapping[str, LoadedTask],
    device: str,
    precision: str,
) -> Manifest:
    """The manifest of the session that trains now, on `device` with `precision`."""
    commit, dirty = git_state()
    on_cuda = torch.cuda.is_available() and "cuda" in device
    return Manifest(
        studio_version=studio.__version__,
        python=platform.python_version(),
        libraries={name: _version(name) for name in LIBRARIES},
        platform=platform.platform(),
        device=device,
        seed=int(seed),
        config=dict(config),
        data={name: task_data(loaded) for name, loaded in tasks.items()},
        git_commit=commit,
        git_dirty=dirty,
        device_name=torch.cuda.get_device_name() if on_cuda else None,
        cuda=torch.version.cuda,
        driver=nvidia_driver() if on_cuda else None,
        cpu_features=tuple(cpu_bf16_features()),
        precision=precision,
    )


def recipe_manifest(config: Mapping[str, Any], seed: int, recipe: Recipe) -> Manifest:
    """The manifest of a run set up as `recipe` (pre-finetuning or fine-tuning)."""
    precision = str(recipe.accelerator.mixed_precision)
    return collect_manifest(config, seed, recipe.tasks, recipe.plan.device, precision)


def task_data(loaded: LoadedTask) -> TaskData:
    """Where a task's training data came from: its fingerprint and, for the hub, the pin."""
    spec = loaded.spec
    if spec.hub is not None and loaded.fingerprint.startswith("hub:"):
        return TaskData("hub", loaded.fingerprint, spec.hub.revision)
    return TaskData("synthetic" if spec.is_synthetic else "local", loaded.fingerprint)


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


@cache
def git_state() -> tuple[str | None, bool | None]:
    """The commit of the checkout the studio runs from and whether its tracked files have
    changes; (None, None) for an installed studio, or without git."""
    root = Path(studio.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None, None
    try:
        commit = _git(root, "rev-parse", "HEAD")
        changes = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError) as e:
        log.debug("no git state for %s: %s", root, e)
        return None, None
    return commit, bool(changes)


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()


@cache
def nvidia_driver() -> str | None:
    """The NVIDIA driver's version: from the kernel module (Linux), else nvidia-smi."""
    with contextlib.suppress(OSError):
        text = Path("/proc/driver/nvidia/version").read_text(encoding="utf-8")
        found = re.search(r"Kernel Module\s+(?:for\s+\S+\s+)?([\d.]+)", text)
        if found:
            return found.group(1)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
        return (done.stdout.strip().splitlines() or [""])[0] or None
    return None
