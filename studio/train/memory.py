"""Running out of GPU memory, told as such: which settings of the run to lower, and to what."""

from __future__ import annotations

from typing import Any

import torch

from studio.core.config.run import RunConfig
from studio.core.errors import StudioError


class OutOfMemory(StudioError):
    """The GPU had no memory left for the run's batches; the message names the settings."""


def out_of_memory(config: RunConfig, exc: BaseException) -> OutOfMemory:
    """The user's error for `exc` (a torch.cuda.OutOfMemoryError) in a run of `config`.

    Memory grows with the examples of a sub-batch (batch_size; validation takes twice as
    many), their length (max_length) and the bytes per activation (mixed_precision).
    """
    # torch's first three sentences: what it tried to allocate, what the device has free
    # (the rest is advice on the allocator's settings, not on the run's)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    said = ". ".join(first.split(". ")[:3]).rstrip(".")
    lower = [
        f"batch_size (now {config.batch_size}; validation batches are twice that)",
        f"max_length (now {config.max_length})",
    ]
    if config.mixed_precision == "no":  # auto already picks bf16 or fp16 on a GPU
        lower.append("mixed_precision (now no: bf16 or fp16 halve the activations)")
    if config.num_beams > 1:
        lower.append(f"num_beams (now {config.num_beams}) for summarization validation")
    # The cached blocks of the failed step would stay reserved for the next job in the process.
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return OutOfMemory(
        f"the GPU ran out of memory ({said}). Lower "
        + "; ".join(lower)
        + ". "
        + _fused_note(config)
    )


def _fused_note(config: RunConfig) -> str:
    if config.fuse_update == "on":
        return "Or set fuse_update to auto or off: on, an update's sub-batches run together."
    return "tasks_per_update does not change it: its sub-batches run one after another."


def activation_bytes_per_token(model_config: Any, max_length: int, precision: str) -> float:
    """What one token of a training batch keeps for the backward pass, roughly: per layer
    34 h + 5 a s bytes in 16 bits (Korthikanti et al. 2022, "Reducing activation
    recomputation"), twice that in fp32; s is the run's longest input."""
    hidden = int(getattr(model_config, "hidden_size", 768))
    layers = int(getattr(model_config, "num_hidden_layers", 0) or
                 getattr(model_config, "encoder_layers", 0) or 12)  # fmt: skip
    heads = int(getattr(model_config, "num_attention_heads", 0) or
                getattr(model_config, "encoder_attention_heads", 0) or 12)  # fmt: skip
    scale = 1.0 if precision in ("bf16", "fp16") else 2.0
    return layers * (34 * hidden + 5 * heads * max_length) * scale


def free_bytes(device: torch.device) -> int | None:
    """Memory the device has free now: the GPU's, or the host's for the CPU (None: unknown)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "cpu":
        import psutil

        return int(psutil.virtual_memory().available)
    return None


def fused_token_budget(
    config: RunConfig, model_config: Any, device: torch.device, precision: str
) -> int | None:
    """How many tokens one forward+backward pass of a fused update may hold (fuse_update
    auto): half the free memory over the activations per token. 0 when unknown: then each
    sub-batch is a pass of its own, as with fuse_update off."""
    free = free_bytes(device)
    if free is None:
        return 0
    return int(free / 2 / activation_bytes_per_token(model_config, config.max_length, precision))
