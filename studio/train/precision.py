"""What `mixed_precision: auto` means on this machine. Only torch: the window's device probe
reads it without loading the rest of training."""

from __future__ import annotations

import contextlib

import torch

# bench/cpu_bf16.py measured bf16 autocast against fp32 on a CPU with AVX512-BF16 and AMX (see
# the README's benchmarks): this is what `auto` does with such a CPU.
CPU_BF16_BY_DEFAULT = True


def cpu_bf16_features() -> list[str]:
    """The instructions this CPU computes bf16 with, natively; [] where it would emulate it."""
    checks = {"AVX512-BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported"}
    found = []
    for label, name in checks.items():
        check = getattr(torch.cpu, name, None)  # private: absent in some torch releases
        with contextlib.suppress(RuntimeError):
            if check is not None and check():
                found.append(label)
    return found


def auto_precision(on_cuda: bool) -> str:
    """What `mixed_precision: auto` means here: bf16 on a GPU that has it (else fp16); on a CPU
    bf16 autocast only where the CPU computes bf16 natively and it was measured to pay."""
    if on_cuda:
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if CPU_BF16_BY_DEFAULT and cpu_bf16_features() else "no"
