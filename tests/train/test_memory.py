"""A GPU out of memory is told as the settings of the run that need less of it."""

from __future__ import annotations

import torch

from studio.core.config.run import RunConfig
from studio.core.errors import StudioError
from studio.train.memory import out_of_memory

# As torch 2.11 said it on an H200 (one line; the allocator advice after the third sentence).
OOM = torch.cuda.OutOfMemoryError(
    "CUDA out of memory. Tried to allocate 400.00 GiB. GPU 0 has a total capacity of 139.80 GiB "
    "of which 138.85 GiB is free. Including non-PyTorch memory, this process has 964.00 MiB "
    "memory in use. If reserved but unallocated memory is large try setting "
    "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True\nmore detail"
)


def test_the_message_names_each_setting_with_its_value() -> None:
    config = RunConfig(tasks=("rte",), batch_size=32, max_length=512, mixed_precision="no")
    error = out_of_memory(config, OOM)
    assert isinstance(error, StudioError)
    text = str(error)
    assert text.startswith(
        "the GPU ran out of memory (CUDA out of memory. Tried to allocate 400.00 GiB. GPU 0 has "
        "a total capacity of 139.80 GiB of which 138.85 GiB is free). Lower batch_size (now 32"
    )
    assert "PYTORCH_CUDA_ALLOC_CONF" not in text and "more detail" not in text
    assert "batch_size (now 32" in text and "max_length (now 512)" in text
    assert "mixed_precision (now no" in text


def test_mixed_precision_is_named_only_when_it_is_off() -> None:
    text = str(out_of_memory(RunConfig(tasks=("rte",), mixed_precision="auto"), OOM))
    assert "mixed_precision" not in text
    beams = str(out_of_memory(RunConfig(tasks=("rte",), num_beams=4), OOM))
    assert "num_beams (now 4)" in beams
