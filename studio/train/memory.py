"""Running out of GPU memory, told as such: which settings of the run to lower, and to what."""

from __future__ import annotations

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
        + ". tasks_per_update does not change it: its sub-batches run one after another."
    )
