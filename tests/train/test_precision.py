"""What `mixed_precision: auto` means on this machine, and bf16 autocast on a CPU that has it."""

from __future__ import annotations

import threading

import pytest
import torch

from studio.core.config.run import RunConfig
from studio.core.errors import ConfigError
from studio.core.experiments.transfer import FinetuneSettings
from studio.core.sink import MemorySink
from studio.train import precision
from studio.train.loop import train
from studio.train.precision import auto_precision, cpu_bf16_features
from studio.train.setup import Workspace, make_accelerator
from tests.support import tiny_config

NATIVE_BF16 = bool(cpu_bf16_features())


def test_auto_is_fp32_on_a_cpu_without_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: [])
    assert auto_precision(on_cuda=False) == "no"
    assert make_accelerator("cpu", "auto", None).mixed_precision == "no"


def test_auto_is_bf16_on_a_cpu_that_computes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: ["AMX"])
    assert auto_precision(on_cuda=False) == "bf16"
    monkeypatch.setattr(precision, "CPU_BF16_BY_DEFAULT", False)  # what the benchmark would undo
    assert auto_precision(on_cuda=False) == "no"


def test_an_explicit_precision_is_kept_and_fp16_needs_a_gpu() -> None:
    assert make_accelerator("cpu", "no", None).mixed_precision == "no"
    with pytest.raises(ConfigError, match="fp16 needs a CUDA device"):
        make_accelerator("cpu", "fp16", None)


def test_fine_tuning_settings_check_their_precision() -> None:
    assert FinetuneSettings().mixed_precision == "auto"
    with pytest.raises(ConfigError, match="mixed_precision: 'fp8' is not allowed"):
        FinetuneSettings(mixed_precision="fp8")


@pytest.mark.train
@pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has neither AVX512-BF16 nor AMX")
def test_bf16_autocast_trains_on_this_cpu_close_to_fp32(
    tiny_model: str, workspace: Workspace
) -> None:
    losses = {}
    for mode in ("no", "bf16"):
        config: RunConfig = tiny_config(
            tiny_model, ("synth_sentiment", "synth_choice"), mixed_precision=mode
        )
        sink = MemorySink()
        result = train(config, sink, threading.Event(), workspace)
        assert result.step == config.max_steps
        losses[mode] = sink.values("total_loss")
    assert all(torch.isfinite(torch.tensor(losses["bf16"])))
    # bf16 keeps 8 bits of mantissa: the same run, losses within a few per cent.
    assert losses["bf16"] == pytest.approx(losses["no"], rel=0.05)
