"""Exporting a checkpoint as a folder any Hugging Face user can load, plus heads and a model card.

The export is written into a temporary sibling folder and renamed into place at the end, so
a failure (bad target, full disk) never leaves a half-written export behind. The temporary
folder's name holds the writing process's id: what a killed export left is removed by the next
export into the same folder.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from safetensors.torch import save_file
from transformers import AutoTokenizer

from studio.core.errors import StudioError
from studio.core.files import disk_full, disk_full_message, free_bytes, human_bytes
from studio.core.manifest import Manifest
from studio.core.paths import export_target_problem
from studio.core.processes import pid_alive
from studio.core.run_record import Run
from studio.train.checkpoint import (
    best_step,
    complete_checkpoints,
    damaged_checkpoints,
    read_state,
    split_weights,
)
from studio.train.hub_card import HubFacts, hub_card
from studio.train.seq2seq import is_seq2seq, load_checkpoint_model
from studio.train.setup import quiet_libraries
from studio.train.task_embedding import KEY as TASK_VECTORS

Progress = Callable[[float, str], None]
log = logging.getLogger(__name__)

# `.<name>.export-<pid>-<random>`: an export being written, by process <pid>.
PARTIAL = re.compile(r"^\..+\.export-(\d+)-[A-Za-z0-9_]+$")
STALE_AFTER = 24 * 3600.0  # seconds: a partial export this old is abandoned whoever owns it


class ExportError(StudioError):
    """The export target is unusable or the export could not be written."""


def select_checkpoint(root: Path, which: str) -> Path:
    """`best` (highest mean validation metric), `latest`, or a step number.

    Damaged checkpoints are skipped with a warning that names them; asked for by step, one is
    an error that says what is wrong with it.
    """
    found = complete_checkpoints(root)
    damaged = damaged_checkpoints(root)
    if which.isdigit() and int(which) in damaged:
        raise ExportError(f"the checkpoint {damaged[int(which)]}")
    for problem in damaged.values():
        log.warning("skipping the damaged checkpoint %s", problem)
    if not found:
        also = "".join(f"\n  damaged: {p}" for p in damaged.values())
        raise ExportError(f"{root}: this run has no complete checkpoint to export{also}")
    if which == "latest":
        return found[max(found)]
    if which == "best":
        best = best_step(found)
        if best is None:
            raise ExportError("no checkpoint of this run was validated; use --checkpoint latest")
        return found[best]
    if not which.isdigit() or int(which) not in found:
        raise ExportError(
            f"checkpoint {which!r} does not exist; have best, latest or steps {sorted(found)}"
        )
    return found[int(which)]


def check_target(out_dir: Path, needed_bytes: int) -> None:
    """Refuse a non-empty folder, an unwritable place or too little disk space, up front."""
    problem = export_target_problem(out_dir)
    if problem:
        raise ExportError(problem)
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {parent}: {exc.strerror}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"{parent} is not writable; choose another folder")
    free = free_bytes(parent)
    if free is not None and free < needed_bytes:
        raise ExportError(
            f"not enough disk space in {parent}: the export needs about "
            f"{human_bytes(needed_bytes)}, {human_bytes(free)} are free"
        )


def _write(
    checkpoint: Path,
    tmp: Path,
    state: dict[str, Any],
    run: Run | None,
    progress: Progress,
    hub: HubFacts | None = None,
    manifest: Manifest | None = None,
) -> None:
    progress(0.1, "loading the checkpoint")
    backbone_weights, head_weights = split_weights(checkpoint)
    encoder = load_checkpoint_model(checkpoint, backbone_weights)
    seq2seq = is_seq2seq(encoder.config)
    # The heads read the encoder (of an encoder-decoder, its encoder stack).
    hidden = int((encoder.get_encoder() if seq2seq else encoder).config.hidden_size)
    progress(0.4, "writing the encoder")
    encoder.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(checkpoint / "tokenizer").save_pretrained(tmp)
    progress(0.7, "writing the heads, config and model card")
    save_file({k: v.contiguous() for k, v in head_weights.items()}, str(tmp / "heads.safetensors"))
    pooling = state["config"].get("pooling", "first")
    heads = [
        {**h, "architecture": _architecture(h["format"], hidden, h, pooling)}
        for h in state["heads"]
    ]
    described: dict[str, Any] = {"heads": heads}
    if TASK_VECTORS in head_weights:
        described["task_embedding"] = _task_embedding(state["config"], hidden)
    (tmp / "heads.json").write_text(json.dumps(described, indent=1))
    (tmp / "studio_config.yaml").write_text(yaml.safe_dump(state["config"], sort_keys=False))
    card = model_card(state, run, seq2seq=seq2seq, manifest=manifest)
    if hub is not None:  # --hub-ready: the Hub's metadata, read back by its parser
        card = hub_card(card, state, run, hub)
    (tmp / "README.md").write_text(card, encoding="utf-8")


def _task_embedding(config: dict[str, Any], hidden: int) -> dict[str, Any]:
    """heads.json's description of the run's task vectors (train/task_embedding.py)."""
    return {
        "weights": f"{TASK_VECTORS} in heads.safetensors: [tasks, {hidden}], row i for tasks[i]",
        "tasks": list(config["tasks"]),
        "added_to": "the first token's input embedding (the word embedding, before positions)",
        "dropout": config.get("task_embedding_dropout", 0.0),
    }


def _architecture(fmt: str, hidden: int, head: dict[str, Any], pooling: str) -> dict[str, Any]:
    if fmt == "extractive_qa":
        return {
            "type": "span",
            "weights": "<head>.out.{weight,bias}: Linear(hidden, 2) on every "
            "token -> start and end logits",
            "hidden": hidden,
        }
    outputs = len(head["labels"]) if head["labels"] else 1
    return {
        "type": "pooled",
        "weights": "<head>.dense (tanh) then <head>.out on the pooled vector",
        "pooling": "first token" if pooling == "first" else "mean of the non-padding tokens",
        "hidden": hidden,
        "outputs": outputs,
    }


def clear_stale_exports(folder: Path) -> list[str]:
    """Remove the partial exports in `folder` whose process is gone (a kill, a crash, a power
    cut: nothing else removes them, and each holds up to a model's size); return their names.

    One whose process lives is being written now and stays, unless a day old (the process
    id was reused). Folders of an older studio, without a process id, are left alone.
    """
    removed = []
    for child in folder.glob(".*.export-*"):
        match = PARTIAL.match(child.name)
        if not match or not child.is_dir():
            continue
        try:
            stale = time.time() - child.stat().st_mtime > STALE_AFTER
        except OSError:
            continue  # removed meanwhile
        if stale or not pid_alive(int(match.group(1))):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    return removed


def _make_readable(folder: Path) -> None:
    """mkdtemp and some writers create owner-only files; an export is meant to be shared."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [folder, *folder.rglob("*")]:
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def export_checkpoint(
    checkpoint: Path,
    out_dir: Path,
    run: Run | None = None,
    progress: Progress | None = None,
    hub: HubFacts | None = None,
    manifest: Manifest | None = None,
) -> Path:
    """Write the export of `checkpoint` to `out_dir` (new or empty); return `out_dir`.

    With `hub`, the model card carries the Hub's metadata (`export --hub-ready`)."""
    report = progress or (lambda fraction, message: None)
    quiet_libraries()
    out_dir = Path(out_dir).expanduser().resolve()
    state = read_state(checkpoint)
    size = sum(f.stat().st_size for f in checkpoint.rglob("*") if f.is_file())
    needed = int(size * 0.6) + 20_000_000  # no optimizer state in an export
    check_target(out_dir, needed)
    for name in clear_stale_exports(out_dir.parent):
        log.info("removed %s, a partial export whose process is gone", out_dir.parent / name)
    prefix = f".{out_dir.name}.export-{os.getpid()}-"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
    try:
        _write(checkpoint, tmp, state, run, report, hub, manifest)
        _make_readable(tmp)
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(tmp, out_dir)
    except Exception as exc:
        # However the writer says it (safetensors raises no OSError): asked before the partial
        # files go, since they are what filled the disk.
        if disk_full(exc, out_dir.parent):
            shutil.rmtree(tmp, ignore_errors=True)
            raise ExportError(
                f"ran out of disk space while exporting to {out_dir}: "
                + disk_full_message(out_dir.parent, needed, "the export")
                + "; nothing was left behind"
            ) from exc
        if isinstance(exc, OSError):
            raise ExportError(f"could not write the export to {out_dir}: {exc}") from exc
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(1.0, f"exported to {out_dir}")
    return out_dir


def model_card(
    state: dict[str, Any],
    run: Run | None,
    seq2seq: bool = False,
    manifest: Manifest | None = None,
) -> str:
    """A README.md in the Hugging Face model-card style (`run`: the stored run, if known;
    `manifest`: what produced the session that saved the checkpoint, if recorded)."""
    config = state["config"]
    base = (run.base_model if run else "") or config["model"]
    probs, sizes = state["probabilities"], state["train_examples"]
    seen = state["seen"]
    total_seen = sum(seen.values()) or 1
    lines = [
        "---",
        "library_name: transformers",
        "tags: [muppet-studio, pre-finetuning, multi-task]",
        "---",
        "",
        f"# {(run.name if run else '') or 'Pre-finetuned encoder'}",
        "",
        f"A shared encoder pre-finetuned with Muppet Studio on {len(sizes)} tasks "
        f"(Muppet recipe: Aghajanyan et al., 2021), exported at update {state['step']} of "
        f"{config['max_steps']}" + (f" from run `{run.id}`." if run else "."),
        "",
        "## Training",
        "",
        f"- Base model: `{base}`",
        f"- Loss scaling: `{config['loss_scaling']}`; batch mixing: `{config['mixing']}` with "
        f"{config['tasks_per_update']} sub-batches of {config['batch_size']} per update",
        f"- Task sampling: `{config['sampling']}`"
        + (f" (T = {config['temperature']})" if config["sampling"] == "temperature" else "")
        + (f", examples cap {config['examples_cap']}" if config["examples_cap"] else ""),
        f"- Head sharing: `{config['head_sharing']}`; learning rate {config['learning_rate']}, "
        f"warmup ratio {config['warmup_ratio']}, max length {config['max_length']}, "
        f"seed {config['seed']}",
        "",
        "## Tasks",
        "",
        "| task | train examples | sampling share | achieved share | validation |",
        "|---|---|---|---|---|",
    ]
    metrics = state.get("eval_metrics") or {}
    for task in sizes:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in metrics.get(task, {}).items())
        lines.append(
            f"| {task} | {sizes[task]} | {probs[task]:.3f} | "
            f"{seen.get(task, 0) / total_seen:.3f} | {scores or 'not validated'} |"
        )
    if state.get("eval_mean") is not None:
        lines += ["", f"Mean validation metric: {state['eval_mean']:.4f}"]
    lines += [
        "",
        "## How to load",
        "",
        "```python",
        *(_SEQ2SEQ_LOADING if seq2seq else _ENCODER_LOADING),
        'tokenizer = AutoTokenizer.from_pretrained("PATH")',
        "```",
        "",
        "`heads.safetensors` holds the task heads and `heads.json` describes them (task, format, "
        "labels, which tasks share a head). The paper recommends reusing a matching head when "
        "fine-tuning on a small dataset. `studio_config.yaml` is the run config; "
        "`python -m studio train studio_config.yaml` repeats the run.",
        "",
    ]
    if seq2seq:
        lines[-1:-1] = [
            "",
            "This is an encoder-decoder: summarization tasks trained its decoder and LM head "
            "(`model.generate`), and the heads read the outputs of its encoder "
            "(`model.get_encoder()`).",
        ]
    if manifest is not None:
        lines += manifest_section(manifest)
    return "\n".join(lines)


def manifest_section(manifest: Manifest) -> list[str]:
    """The card's "Environment" section: the run's manifest as a table (core.manifest)."""
    rows = [f"| {what} | {value.replace('|', '/')} |" for what, value in manifest.rows()]
    return [
        "## Environment",
        "",
        "What produced this checkpoint, as the run recorded it when its session started:",
        "",
        "| what | value |",
        "|---|---|",
        *rows,
        "",
    ]


_ENCODER_LOADING = [
    "from transformers import AutoModel, AutoTokenizer",
    'model = AutoModel.from_pretrained("PATH")',
]
_SEQ2SEQ_LOADING = [
    "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer",
    'model = AutoModelForSeq2SeqLM.from_pretrained("PATH")',
]
