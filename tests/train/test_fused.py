"""The fused update (fuse_update): one encoder pass per length group trains like one pass per
sub-batch — the same losses and gradients to float tolerance, dropout off, R3F on — for a mix
of classification, pair, regression, multiple choice and span tasks; and how an update is
cut into length groups and memory-bounded passes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from studio.core.config.run import RunConfig
from studio.core.sink import WALL_CLOCK, MemorySink
from studio.train import loop as loop_module
from studio.train.fused import Part, length_groups, passes
from studio.train.loop import train
from studio.train.model import MultiTaskModel
from studio.train.setup import Workspace
from tests.support import save_tiny_bert, tiny_config

pytestmark = pytest.mark.train

MIX = ("synth_sentiment", "synth_pair", "synth_regression", "synth_choice", "synth_span")


@pytest.fixture(scope="module")
def still_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Dropout would draw different masks for one pass and for several."""
    folder = tmp_path_factory.mktemp("tiny-bert-still")
    return save_tiny_bert(folder, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _config(model: str, **changes: object) -> RunConfig:
    base = tiny_config(
        model, MIX, max_steps=3, log_every=1, learning_rate=1e-3, tasks_per_update=5,
        batch_size=6, seed=5, r3f_lambda=1.0, r3f_eps=1e-2,
    )  # fmt: skip
    return base.replace(**changes)


Rows = dict[tuple[int, str | None, str], float]


def _run(
    config: RunConfig, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> tuple[Rows, list[dict[str, torch.Tensor]], int]:
    """The logged rows (no wall-clock ones), every update's gradients before clipping, and
    how many times the encoder ran."""
    grads: list[dict[str, torch.Tensor]] = []
    original = loop_module.clipped_update
    encoder_calls = 0
    hidden_states = MultiTaskModel.hidden_states

    def counting(self, inputs, parts=None):  # type: ignore[no-untyped-def]
        nonlocal encoder_calls
        encoder_calls += 1
        return hidden_states(self, inputs, parts)

    def spy(training, grad_clip):  # type: ignore[no-untyped-def]
        grads.append(
            {n: p.grad.detach().clone() for n, p in training.model.named_parameters()
             if p.grad is not None}
        )  # fmt: skip
        return original(training, grad_clip)

    with monkeypatch.context() as patch:
        patch.setattr(loop_module, "clipped_update", spy)
        patch.setattr(MultiTaskModel, "hidden_states", counting)
        sink = MemorySink()
        assert train(config, sink, threading.Event(), workspace).status == "finished"
    rows = {(r.step, r.task, r.name): r.value for r in sink.rows if r.name not in WALL_CLOCK}
    return rows, grads, encoder_calls


def _assert_same(a: dict, b: dict, grads_a: list, grads_b: list) -> None:  # type: ignore[type-arg]
    assert a.keys() == b.keys()
    for key, value in a.items():
        assert b[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert len(grads_a) == len(grads_b)
    for one, other in zip(grads_a, grads_b, strict=True):
        assert one.keys() == other.keys()
        largest = max(float(g.abs().max()) for g in one.values())
        for name, grad in one.items():
            assert torch.allclose(other[name], grad, rtol=1e-4, atol=1e-6 * largest), name


@pytest.mark.parametrize("fuse", ["on", "auto"])
def test_a_fused_run_logs_the_same_losses_and_gradients(
    fuse: str, still_model: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(still_model)
    rows, grads, calls = _run(config.replace(fuse_update="off"), workspace, monkeypatch)
    fused_rows, fused_grads, fused_calls = _run(
        config.replace(fuse_update=fuse), workspace, monkeypatch
    )
    assert {t for _, t, n in rows if n == "loss"} == set(MIX)
    assert fused_calls < calls  # length groups: fewer encoder calls than sub-batches
    _assert_same(rows, fused_rows, grads, fused_grads)


def test_fused_passes_cut_by_memory_train_the_same(
    still_model: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """auto with little memory: several fused passes per update, gradients synchronised once."""
    config = _config(still_model, r3f_lambda=0.0)
    rows, grads, _ = _run(config.replace(fuse_update="off"), workspace, monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr("studio.train.update.fused_token_budget", lambda *a: 600)
        fused_rows, fused_grads, _ = _run(
            config.replace(fuse_update="auto"), workspace, monkeypatch
        )
    _assert_same(rows, fused_rows, grads, fused_grads)


def _part(rows: int, width: int, fmt: str = "classification") -> Part:
    return Part("t", fmt, {"input_ids": torch.zeros(rows, width, dtype=torch.long)})


def test_length_groups_bound_the_padding() -> None:
    parts = [_part(8, 20), _part(8, 120), _part(8, 22), _part(4, 128), _part(8, 24)]
    assert length_groups(parts) == [[0, 2, 4], [1, 3]]
    assert length_groups(parts, slack=10.0) == [[0, 2, 4, 1, 3]]
    # multiple choice counts its choices' rows; summarization runs alone
    mixed = [_part(2, 16), Part("c", "multiple_choice", {"input_ids": torch.zeros(2, 4, 16)})]
    assert length_groups([*mixed, _part(2, 16, "summarization")]) == [[2], [0, 1]]


def test_passes_fit_the_budget() -> None:
    parts = [_part(8, 10)] * 4  # 100 tokens each, with the slack
    assert passes(parts, None) == [[0, 1, 2, 3]]
    assert passes(parts, 250) == [[0, 1], [2, 3]]
    assert passes(parts, 10) == [[0], [1], [2], [3]]


def test_yaml_reads_a_bare_on_and_off(tmp_path: Path) -> None:
    from studio.core.config.run import load_config

    path = tmp_path / "run.yaml"
    path.write_text("tasks: [synth_sentiment]\nfuse_update: on\ncompile: off\n")
    config = load_config(path)
    assert (config.fuse_update, config.compile) == ("on", "off")
    path.write_text(config.to_yaml())
    assert load_config(path) == config
