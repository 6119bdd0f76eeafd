"""The training loop: mixing, stop, learning, heads, logged metrics, refusals."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from studio.core import metric_catalogue as mc
from studio.core.config.run import RunConfig
from studio.core.errors import StudioError
from studio.core.sink import MemorySink, NullSink
from studio.train import loop as loop_module
from studio.train import model as model_module
from studio.train.loop import train
from studio.train.setup import Workspace
from tests.support import StopAt, tiny_config

pytestmark = pytest.mark.train

SYNTH = ("synth_sentiment", "synth_pair", "synth_regression", "synth_choice", "synth_span")


def _config(model: str, **changes: object) -> RunConfig:
    base = tiny_config(
        model,
        SYNTH,
        max_steps=12,
        log_every=4,
        learning_rate=1e-3,
        tasks_per_update=3,
        eval_max_examples=40,
        seed=1,
    )
    return base.replace(**changes)


def _record_updates(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = model_module.MultiTaskModel.forward

    def spy(self, task, batch, *args):  # type: ignore[no-untyped-def]
        calls.append(task)
        return original(self, task, batch, *args)

    monkeypatch.setattr(model_module.MultiTaskModel, "forward", spy)
    return calls


def test_heterogeneous_updates_mix_several_tasks(
    tiny_model: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _record_updates(monkeypatch)
    train(_config(tiny_model), NullSink(), threading.Event(), workspace)
    updates = [calls[i : i + 3] for i in range(0, len(calls), 3)]
    assert len(updates) == 12
    assert all(len(set(u)) == 3 for u in updates)  # 5 equal tasks, 3 slots: all distinct


def test_homogeneous_and_sequential_updates_hold_one_task(
    tiny_model: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    for mixing in ("homogeneous", "sequential"):
        calls = _record_updates(monkeypatch)
        train(
            _config(tiny_model, mixing=mixing, max_steps=10),
            NullSink(),
            threading.Event(),
            workspace,
        )
        updates = [calls[i : i + 3] for i in range(0, len(calls), 3)]
        assert all(len(set(u)) == 1 for u in updates), mixing
        if mixing == "sequential":
            order = [u[0] for u in updates]
            assert order == sorted(order, key=SYNTH.index)  # blocks in config order
        monkeypatch.undo()


def test_stop_event_ends_the_run_within_one_update(tiny_model: str, workspace: Workspace) -> None:
    stop = threading.Event()
    sink = StopAt(stop, 3)
    result = train(_config(tiny_model, max_steps=50), sink, stop, workspace)
    assert (result.status, result.step) == ("stopped", 3)
    assert sink.steps == [1, 2, 3]


def test_loss_decreases_and_metrics_are_logged(tiny_model: str, workspace: Workspace) -> None:
    config = _config(
        tiny_model,
        max_steps=150,
        log_every=10,
        eval_every=75,
        learning_rate=3e-3,
        tasks=("synth_sentiment", "synth_topic", "synth_choice"),
        tasks_per_update=2,
    )
    sink = MemorySink()
    result = train(config, sink, threading.Event(), workspace)
    assert result.status == "finished"
    total = sink.values("total_loss")
    assert len(total) == 16  # update 1, then every 10th
    assert sum(total[-3:]) / 3 < 0.85 * sum(total[:3]) / 3
    assert result.eval_metrics["synth_sentiment"]["accuracy"] > 0.9
    names = {(r.name, r.task is None) for r in sink.rows}
    for run_wide in (
        "total_loss",
        "lr",
        "grad_norm",
        "examples_per_s",
        "tokens_per_s",
        "padding_efficiency",
        "eval_mean",
    ):
        assert (run_wide, True) in names
    for per_task in ("loss", "scaled_loss", "loss_scale", "share", "eval_loss", "eval_accuracy"):
        assert (per_task, False) in names
    shares = {r.task: r.value for r in sink.rows if r.name == "share" and r.step == 150}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert all(abs(s - 1 / 3) < 0.05 for s in shares.values())
    # Every row is of a metric the catalogue declares (or a task's validation metric).
    for row in sink.rows:
        declared = mc.METRICS.get(row.name)
        assert declared or mc.task_metric(row.name), row.name
        assert declared is None or declared.per_task == (row.task is not None), row.name
    # The plan the run recorded: one per task, in config order, as the loop applied it.
    (plan,) = sink.plans
    assert [p.task for p in plan.tasks] == list(config.tasks)
    assert sum(p.share for p in plan.tasks) == pytest.approx(1.0)
    for p in plan.tasks:
        assert p.examples > 0 and p.size is not None and p.size >= 2
        assert sink.values("loss_scale", p.task)[-1] == p.scale
    assert plan.device.startswith("cpu")


def _first_gradients(
    config: RunConfig, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, torch.Tensor], MemorySink]:
    """The gradients of the first update, before clipping, by parameter name."""
    grads: dict[str, torch.Tensor] = {}
    original = loop_module.clipped_update

    def spy(training, grad_clip):  # type: ignore[no-untyped-def]
        if not grads:
            for name, p in training.model.named_parameters():
                if p.grad is not None:
                    grads[name] = p.grad.detach().clone()
        return original(training, grad_clip)

    with monkeypatch.context() as patch:
        patch.setattr(loop_module, "clipped_update", spy)
        sink = MemorySink()
        train(config, sink, threading.Event(), workspace)
    return grads, sink


def test_loss_scale_logged_is_the_factor_applied(
    tiny_model: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """log_n scaling multiplies every gradient by 1/log(n) (n = 2 labels), as logged."""
    task = ("synth_sentiment",)
    config = _config(tiny_model, tasks=task, tasks_per_update=1, max_steps=1)
    plain, _ = _first_gradients(config.replace(loss_scaling="none"), workspace, monkeypatch)
    scaled, sink = _first_gradients(config.replace(loss_scaling="log_n"), workspace, monkeypatch)
    factor = 1 / math.log(2)
    assert sink.values("loss_scale", "synth_sentiment") == [pytest.approx(factor)]
    assert plain.keys() == scaled.keys()
    largest = max(float(grad.abs().max()) for grad in plain.values())
    assert largest > 0
    # Float32 rounding differs between the two backward passes; some gradients (the key bias)
    # are zero but for that rounding, so the floor is relative to the largest gradient.
    for name, grad in plain.items():
        assert torch.allclose(scaled[name], grad * factor, rtol=1e-4, atol=1e-6 * largest), name


def test_head_sharing(
    tiny_model: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[model_module.MultiTaskModel] = []
    original = model_module.MultiTaskModel.__init__

    def keep(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(model_module.MultiTaskModel, "__init__", keep)
    for sharing in ("shared", "per_dataset"):
        train(
            _config(tiny_model, max_steps=1, head_sharing=sharing),
            NullSink(),
            threading.Event(),
            workspace,
        )
    shared, separate = built
    assert shared.head_of["synth_choice"] == "multiple_choice"
    assert shared.head_of["synth_span"] == "extractive_qa"
    assert separate.head_of["synth_choice"] == "multiple_choice/synth_choice"
    assert len(separate.heads) == len(SYNTH)


def test_summarization_is_refused_with_the_reason(tiny_model: str, workspace: Workspace) -> None:
    with pytest.raises(StudioError, match="synth_summary.*encoder-only"):
        train(
            _config(tiny_model, tasks=("synth_summary", "synth_sentiment")),
            NullSink(),
            threading.Event(),
            workspace,
        )


@pytest.mark.parametrize("noise", ["uniform", "normal"])
def test_r3f_adds_its_term_to_the_objective(
    tiny_model: str, workspace: Workspace, noise: str
) -> None:
    plain, r3f = MemorySink(), MemorySink()
    train(_config(tiny_model, max_steps=4), plain, threading.Event(), workspace)
    train(
        _config(tiny_model, max_steps=4, r3f_lambda=1.0, r3f_eps=0.5, r3f_noise=noise),
        r3f,
        threading.Event(),
        workspace,
    )
    first_plain, first_r3f = plain.values("total_loss")[0], r3f.values("total_loss")[0]
    assert first_r3f > first_plain  # the same batches plus a positive symmetric-KL term
    assert all(v == v for v in r3f.values("total_loss"))


def test_r3f_with_lambda_zero_is_a_run_without_it(tiny_model: str, workspace: Workspace) -> None:
    plain, zero = MemorySink(), MemorySink()
    train(_config(tiny_model, max_steps=3), plain, threading.Event(), workspace)
    config = _config(tiny_model, max_steps=3, r3f_lambda=0.0, r3f_eps=0.5, r3f_noise="normal")
    train(config, zero, threading.Event(), workspace)
    assert zero.values("total_loss") == plain.values("total_loss")
    assert zero.values("grad_norm") == plain.values("grad_norm")


def test_every_run_that_trained_has_a_curve(tiny_model: str, workspace: Workspace) -> None:
    """The first update is logged, and a stop logs the updates since the last log point."""
    one = MemorySink()
    train(_config(tiny_model, max_steps=1, log_every=10), one, threading.Event(), workspace)
    assert [r.step for r in one.rows if r.name == "total_loss"] == [1]
    stop = threading.Event()
    stopped = StopAt(stop, 3)
    result = train(_config(tiny_model, max_steps=50, log_every=10), stopped, stop, workspace)
    assert result.step == 3
    assert [r.step for r in stopped.rows if r.name == "total_loss"] == [1, 3]


def test_a_run_puts_back_the_process_settings_it_changed(
    tiny_model: str, workspace: Workspace
) -> None:
    import random

    import datasets
    import numpy as np
    import torch
    import transformers

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    transformers.logging.set_verbosity_info()
    datasets.enable_progress_bars()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    states = random.getstate(), np.random.get_state()[1].copy(), torch.random.get_rng_state()
    try:
        train(
            _config(tiny_model, max_steps=1, num_threads=1, seed=5),
            NullSink(),
            threading.Event(),
            workspace,
        )
        assert torch.get_num_threads() == 2
        assert transformers.logging.get_verbosity() == transformers.logging.INFO
        assert datasets.is_progress_bar_enabled()
        assert random.getstate() == states[0]
        assert (np.random.get_state()[1] == states[1]).all()
        assert torch.equal(torch.random.get_rng_state(), states[2])
    finally:
        torch.set_num_threads(before)
        transformers.logging.set_verbosity_warning()
