"""Builders shared by the test packages: tiny BERT and BART folders, a tiny run config and
a sink that stops a run at a given step."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from studio.core.config.run import RunConfig
from studio.core.sink import MemorySink


def save_tiny_bert(folder: Path, **overrides: Any) -> str:
    """A seeded 2-layer, 32-wide BERT with MiniLM's tokenizer, saved in `folder`."""
    from transformers import AutoTokenizer, BertConfig, BertModel, set_seed

    from studio.core.config.models import minilm_folder

    set_seed(0)
    settings: dict[str, Any] = {
        "vocab_size": 30522,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 512,
    }
    BertModel(BertConfig(**(settings | overrides))).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_folder()).save_pretrained(folder)
    return str(folder)


def save_tiny_bart(folder: Path, **overrides: Any) -> str:
    """A seeded 1+1-layer, 32-wide BART with MiniLM's (BERT) tokenizer, saved in `folder`.

    BERT's ids: generation starts at [CLS], ends at [SEP] and pads with [PAD].
    """
    from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration, set_seed

    from studio.core.config.models import minilm_folder

    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    set_seed(0)
    settings: dict[str, Any] = {
        "vocab_size": len(tokenizer),
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "max_position_embeddings": 128,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.cls_token_id,
        "eos_token_id": tokenizer.sep_token_id,
        "decoder_start_token_id": tokenizer.cls_token_id,
        "forced_eos_token_id": tokenizer.sep_token_id,
    }
    BartForConditionalGeneration(BartConfig(**(settings | overrides))).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def tiny_config(model: str, tasks: tuple[str, ...], **changes: Any) -> RunConfig:
    """A short CPU run on small batches; `changes` set what a test cares about."""
    base = RunConfig(
        tasks=tasks,
        model=model,
        max_steps=10,
        eval_every=1000,
        log_every=1,
        checkpoint_every=1000,
        batch_size=8,
        device="cpu",
        # fp32, not auto: `auto` is bf16 on CPUs that have it, and the values tests compare
        # (golden rows, resumes against straight runs) must be the same on every CPU.
        mixed_precision="no",
        max_length=64,
        tasks_per_update=2,
        eval_max_examples=20,
    )
    return base.replace(**changes)


class StopAt(MemorySink):
    """Keeps every report and sets `stop` once the run reports step `at`."""

    def __init__(self, stop: threading.Event, at: int) -> None:
        super().__init__()
        self.stop, self.at = stop, at

    def progress(self, step: int, total: int) -> None:
        super().progress(step, total)
        if step == self.at:
            self.stop.set()


def series(sink: MemorySink, name: str, task: str | None = None) -> dict[int, float]:
    """The values a sink was given for metric `name` of `task`, by step."""
    return {r.step: r.value for r in sink.rows if r.name == name and r.task == task}


def read_only_command(folder: Path, argv: list[str]) -> list[str] | None:
    """`argv` run where `folder` cannot be written, or None where this machine cannot do that.

    As a normal user, file modes do it (the caller makes `folder` read-only); root ignores
    modes, so there the command runs in its own mount namespace with `folder` bind-mounted
    read-only onto itself: a real read-only file system, as a read-only share would be.
    """
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0:
        return argv
    if shutil.which("unshare") is None:
        return None
    probe = ["unshare", "-rm", "sh", "-c", 'mount --bind -o ro "$0" "$0"', str(folder)]
    if subprocess.run(probe, capture_output=True).returncode != 0:
        return None
    return [
        "unshare",
        "-rm",
        "sh",
        "-c",
        'mount --bind -o ro "$0" "$0" && exec "$@"',
        str(folder),
    ] + argv
