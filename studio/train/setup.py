"""Everything the loop needs before its first update: tasks, data, tokenizer, model, device."""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import ParamSpec, TypeVar, cast

import datasets
import numpy as np
import torch
import transformers
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedDataParallelKwargs, InitProcessGroupKwargs
from transformers import (
    AutoConfig,
    AutoTokenizer,
    GenerationConfig,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from studio.core import paths
from studio.core.config.models import SEQ2SEQ_MODEL, check_model, resolve_model
from studio.core.config.run import RunConfig, check_stride
from studio.core.errors import ConfigError, StudioError
from studio.core.sink import Stages
from studio.core.tasks.availability import Availability, resolve
from studio.core.tasks.spec import TaskSpec
from studio.train.data.loading import TaskData, Tokenization, load_task, validate_task
from studio.train.data.tokenized import PreparationStopped, default_workers
from studio.train.positions import capped_length
from studio.train.precision import auto_precision
from studio.train.seq2seq import ensure_minilm_seq2seq, is_seq2seq, model_class

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Workspace:
    """Where a run finds its catalog, data and caches."""

    catalog: dict[str, TaskSpec]
    data_dir: Path | None
    cache: Path
    synthetic_root: Path

    @classmethod
    def default(cls, catalog: dict[str, TaskSpec], data_dir: Path | None = None) -> Workspace:
        return cls(catalog, paths.data_dir(data_dir), paths.cache_dir(), paths.synthetic_dir())


def check_tasks(
    config: RunConfig,
    ws: Workspace,
    stages: Stages | None = None,
    stop: threading.Event | None = None,
) -> list[tuple[TaskSpec, Availability]]:
    """Resolve and fully validate every task of the config before any training starts.

    Files already validated (the same path, size and modification time) are not read again.
    `stages` hears how far validation is; `stop` ends it (PreparationStopped).
    """
    unknown = [t for t in config.tasks if t not in ws.catalog]
    if unknown:
        raise ConfigError(f"tasks: {unknown} are not in the catalog")
    spans = [t for t in config.tasks if ws.catalog[t].format == "extractive_qa"]
    check_stride(config.max_length, config.doc_stride, spans)
    encoder_decoder = is_seq2seq(_model_config(config.model))
    checked = []
    for number, name in enumerate(config.tasks, start=1):
        spec = ws.catalog[name]
        if spec.format == "summarization" and not encoder_decoder:
            raise StudioError(
                f"task '{name}' is summarization, which needs a decoder to generate text; "
                f"the base model '{config.model}' is encoder-only. Leave it out, or pick an "
                f"encoder-decoder base model ('{SEQ2SEQ_MODEL}' offline, facebook/bart-base, "
                "t5-small)."
            )
        if stop is not None and stop.is_set():
            raise PreparationStopped("stopped while validating the tasks' records")
        where = resolve(spec, ws.data_dir, ws.synthetic_root)
        label = f"validating {name} ({number} of {len(config.tasks)})"
        report = None if stages is None else partial(stages.advance, label, unit="")
        validate_task(spec, where, ws.synthetic_root, report)
        checked.append((spec, where))
    return checked


def quiet_libraries() -> None:
    """The studio reports progress itself; keep library bars off stderr."""
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()


def model_path(model: str) -> str:
    """`resolve_model`, building the offline encoder-decoder on first use."""
    check_model(model)  # remote code, or a hub id offline and not cached: refused, said why
    if model == SEQ2SEQ_MODEL:
        ensure_minilm_seq2seq()
    return resolve_model(model)


def _model_config(model: str) -> PretrainedConfig:
    try:
        return AutoConfig.from_pretrained(model_path(model))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"model: cannot load {model!r}: {exc}") from exc


def decoder_start(model: str) -> int | None:
    """The token an encoder-decoder starts generating from (its config, else its
    generation config)."""
    start = getattr(_model_config(model), "decoder_start_token_id", None)
    if start is None:
        try:
            start = GenerationConfig.from_pretrained(model_path(model)).decoder_start_token_id
        except OSError:
            return None
    return None if start is None else int(start)


def load_tokenizer(model: str, span_tasks: Sequence[str] = ()) -> PreTrainedTokenizerFast:
    """The model's tokenizer; one that cannot give character offsets is refused when the run
    has span QA tasks (`span_tasks`), whose answers are found through them."""
    tok = AutoTokenizer.from_pretrained(model_path(model))
    check_offsets(tok, model, span_tasks)
    # A Python ("slow") tokenizer answers every other call the data path makes alike.
    return cast(PreTrainedTokenizerFast, tok)


def check_offsets(tok: object, model: str, span_tasks: Sequence[str]) -> None:
    """Refuse span QA with a tokenizer that gives no offset mapping (a Python tokenizer):
    the answers' token positions would be guessed, and the run would train on wrong spans."""
    if span_tasks and not isinstance(tok, PreTrainedTokenizerFast):  # not `tok.is_fast`
        raise ConfigError(
            f"model: {model}'s tokenizer ({type(tok).__name__}) is a Python tokenizer, which "
            f"gives no character offsets; the span QA tasks {list(span_tasks)} need them to "
            "find their answers. Leave those tasks out, or pick a model with a fast tokenizer "
            "(a tokenizer.json in its folder)."
        )


def within_model(config: RunConfig, tok: PreTrainedTokenizerFast) -> tuple[RunConfig, str | None]:
    """`config` with its max_length cut to what its model reads (train/positions.py), and the
    line that says so (None when it fits)."""
    model_config = _model_config(config.model)
    length, said = capped_length(config.max_length, tok, model_config, config.model)
    return (config if said is None else config.replace(max_length=length)), said


def load_backbone(model: str) -> PreTrainedModel:
    """The base model the heads sit on: an encoder, or a whole encoder-decoder with its LM head
    (summarization generates with it)."""
    try:
        path = model_path(model)
        return model_class(AutoConfig.from_pretrained(path)).from_pretrained(path)
    except OSError as exc:
        raise ConfigError(f"model: cannot load {model!r}: {exc}") from exc


def tokenization(config: RunConfig, tok: PreTrainedTokenizerFast, generating: bool) -> Tokenization:
    """How a run tokenizes; `generating`: it has summarization tasks (their decoder start).

    Under `accelerate launch` every process tokenizes alone (the processes share the cores).
    """
    alone = int(os.environ.get("WORLD_SIZE", "1")) == 1
    workers = (config.num_proc or default_workers()) if alone else 1
    start = decoder_start(config.model) if generating else None
    return Tokenization(
        tok, config.max_length, config.stride, config.max_target_length, start, workers
    )


def load_tasks(
    checked: list[tuple[TaskSpec, Availability]],
    tok: PreTrainedTokenizerFast,
    config: RunConfig,
    ws: Workspace,
    stages: Stages | None = None,
    stop: threading.Event | None = None,
) -> dict[str, TaskData]:
    """Every task's splits from the tokenized cache, tokenizing what is not there yet;
    `stages` hears how far each task is, `stop` ends the work between chunks."""
    how = tokenization(config, tok, any(s.format == "summarization" for s, _ in checked))
    loaded = {}
    for number, (spec, where) in enumerate(checked, start=1):
        label = f"tokenizing {spec.name} ({number} of {len(checked)})"
        report = None if stages is None else partial(stages.advance, label)
        started = time.monotonic()
        data = load_task(spec, where, how, ws.cache, ws.synthetic_root, report, stop)
        seconds = time.monotonic() - started
        if stages is not None and seconds > 1.0:
            examples = data.train_examples + len(data.validation_records)
            stages.sink.log(
                "info",
                f"prepared {spec.name}: {examples:,} examples in {seconds:.1f} s "
                f"({examples / seconds:,.0f}/s, {how.workers} process(es))",
            )
        loaded[spec.name] = data
    return loaded


def keeps_process_settings(train: Callable[P, R]) -> Callable[P, R]:
    """Put back the process-wide settings a training changes when it ends: torch's thread
    count, the global random states its seed set, and the libraries' logging and progress bars
    it quietened. The next training in the same process (a sweep's fine-tunings after its
    pre-finetuning, a notebook, the tests) starts from the process's own."""

    @functools.wraps(train)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        threads = torch.get_num_threads()
        rng = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        verbosity = datasets.logging.get_verbosity(), transformers.logging.get_verbosity()
        bars = datasets.is_progress_bar_enabled(), transformers.logging.is_progress_bar_enabled()
        try:
            return train(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
            random.setstate(rng[0])
            np.random.set_state(rng[1])
            torch.random.set_rng_state(rng[2])
            if cuda_rng is not None:
                torch.cuda.set_rng_state_all(cuda_rng)
            datasets.logging.set_verbosity(verbosity[0])
            transformers.logging.set_verbosity(verbosity[1])
            if bars[0]:
                datasets.enable_progress_bars()
            else:
                datasets.disable_progress_bars()
            if bars[1]:
                transformers.logging.enable_progress_bar()
            else:
                transformers.logging.disable_progress_bar()

    return wrapper


def make_accelerator(
    device: str,
    mixed_precision: str,
    num_threads: int | None,
    log_with: str | None = None,
    project_dir: Path | None = None,
) -> Accelerator:
    """Device placement and mixed precision from a run's settings (docs/DESIGN.md §4); `log_with`
    names the tracker that also gets the metrics, writing under `project_dir`."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for but no CUDA device is available")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device: mps was asked for but Apple's MPS backend is not available")
    on_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    precision = auto_precision(on_cuda) if mixed_precision == "auto" else mixed_precision
    if precision == "fp16" and not on_cuda:
        raise ConfigError("mixed_precision: fp16 needs a CUDA device; use bf16 or no")
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        # Tests, notebooks and transfer experiments run many trainings in one process with
        # different settings. (Not PartialState().num_processes: that would fix the state
        # before `cpu` is known.)
        AcceleratorState._reset_state()
    if num_threads:
        torch.set_num_threads(num_threads)
    return Accelerator(
        cpu=device == "cpu",
        mixed_precision=precision,
        log_with=log_with,
        project_dir=project_dir,
        kwargs_handlers=[
            DistributedDataParallelKwargs(find_unused_parameters=True),
            # Validation (generation above all) runs on the main process while the others
            # wait at a barrier; the default 10-minute collective timeout would end the run.
            InitProcessGroupKwargs(timeout=timedelta(hours=4)),
        ],
    )


def optimizer_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """AdamW groups: no weight decay on biases and normalisation weights."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
