"""A GPU out of memory is told as the settings of the run that need less of it."""

from __future__ import annotations

import torch

from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.train.memory import out_of_memory

OOM = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail")


def test_the_message_names_each_setting_with_its_value() -> None:
    config = RunConfig(tasks=("rte",), batch_size=32, max_length=512, mixed_precision="no")
    error = out_of_memory(config, OOM)
    assert isinstance(error, StudioError)
    text = str(error)
    assert text.startswith("the GPU ran out of memory (CUDA out of memory. Tried to allocate")
    assert "more detail" not in text  # the first line of torch's message is enough
    assert "batch_size (now 32" in text and "max_length (now 512)" in text
    assert "mixed_precision (now no" in text


def test_mixed_precision_is_named_only_when_it_is_off() -> None:
    text = str(out_of_memory(RunConfig(tasks=("rte",), mixed_precision="auto"), OOM))
    assert "mixed_precision" not in text
    beams = str(out_of_memory(RunConfig(tasks=("rte",), num_beams=4), OOM))
    assert "num_beams (now 4)" in beams
