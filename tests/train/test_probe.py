"""Fine-tuning's fairness and cheap modes: pairing, the majority floor, the probe, pooling."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from studio.core.experiments.transfer import FinetuneConfig, FinetuneSettings
from studio.core.sink import MemorySink
from studio.core.tasks.availability import resolve
from studio.train import finetune as finetune_module
from studio.train.batching import collate
from studio.train.data.loading import TaskData, Tokenization, column, load_task, rows
from studio.train.finetune import finetune
from studio.train.model import MultiTaskModel, pool
from studio.train.probe import encode_features
from studio.train.setup import Workspace, load_backbone, load_tokenizer

pytestmark = pytest.mark.train

FAST = FinetuneSettings(
    learning_rate=3e-3, batch_size=8, epochs=1.0, min_steps=4, max_length=64,
    eval_max_examples=40, device="cpu", mixed_precision="no",
)  # fmt: skip


def _run(catalog, model: str, sink: MemorySink | None = None, **changes: object):  # type: ignore[no-untyped-def]
    settings = FinetuneSettings(**{**FAST.__dict__, **changes.pop("settings", {})})  # type: ignore[arg-type]
    config = FinetuneConfig(
        **{"task": "synth_sentiment", "model": model, "k": 24, **changes}, settings=settings
    )  # type: ignore[arg-type]
    return finetune(config, sink or MemorySink(), threading.Event(), Workspace.default(catalog))


def _data(catalog, model: str, task: str) -> TaskData:  # type: ignore[no-untyped-def]
    ws = Workspace.default(catalog)
    spec = catalog[task]
    where = resolve(spec, ws.data_dir, ws.synthetic_root)
    how = Tokenization(load_tokenizer(model), 64, 16)
    return load_task(spec, where, how, ws.cache, ws.synthetic_root)


# A random tiny encoder's first token says little about the input; the mean of its tokens does.
PROBE = {"probe": True, "min_steps": 60, "pooling": "mean", "probe_learning_rate": 1e-2}


@pytest.fixture
def other_model(tiny_model: str, tmp_path: Path) -> str:
    """The tiny model with different weights and the same tokenizer: a stand-in pretuned."""
    model = AutoModel.from_pretrained(tiny_model)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    model.save_pretrained(tmp_path / "other")
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(tmp_path / "other")
    return str(tmp_path / "other")


def test_two_models_with_one_seed_train_on_the_same_batches(  # type: ignore[no-untyped-def]
    catalog, tiny_model: str, other_model: str
) -> None:
    base = _run(catalog, tiny_model, seed=1)
    tuned = _run(catalog, other_model, seed=1)
    assert base.order == tuned.order and base.order  # the pair saw the same examples in order
    assert base.value != tuned.value or base.metrics["loss"] != tuned.metrics["loss"]
    assert _run(catalog, tiny_model, seed=2).order != base.order


def test_the_majority_floor_is_the_metric_of_the_commonest_training_label(  # type: ignore[no-untyped-def]
    catalog, tiny_model: str
) -> None:
    result = _run(catalog, tiny_model, seed=0, k=9)
    data = _data(catalog, tiny_model, "synth_sentiment")
    chosen = np.sort(np.random.default_rng(0).choice(data.train_examples, 9, replace=False))
    majority = np.bincount(column(data.train, "labels")[chosen]).argmax()
    labels = column(data.validation, "labels")[:40]
    assert result.baseline == pytest.approx(float(np.mean(labels == majority)))


def test_the_probe_trains_the_head_only(  # type: ignore[no-untyped-def]
    catalog, tiny_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bool, bool]] = []
    update = finetune_module.clipped_update

    def spy(training, grad_clip):  # type: ignore[no-untyped-def]
        model = training.accelerator.unwrap_model(training.model)
        encoder = [p.grad is not None for p in model.encoder.parameters()]
        head = [p.grad is not None for p in model.heads.parameters()]
        seen.append((any(encoder), all(head)))
        return update(training, grad_clip)

    monkeypatch.setattr(finetune_module, "clipped_update", spy)
    sink = MemorySink()
    probe = _run(catalog, tiny_model, sink, settings=PROBE)
    assert probe.steps == 60 and seen and set(seen) == {(False, True)}
    losses = sink.values("loss", "synth_sentiment")
    assert losses[-1] < losses[0] - 0.05  # the head alone fits the stored features


@pytest.mark.parametrize("task", ["synth_choice", "synth_span", "synth_pair"])
def test_probe_features_are_the_encoders_output_in_the_original_order(  # type: ignore[no-untyped-def]
    catalog, tiny_model: str, task: str
) -> None:
    spec = catalog[task]
    data = _data(catalog, tiny_model, task)
    model = MultiTaskModel(load_backbone(tiny_model), [spec], "shared", pooling="mean").eval()
    features = np.array([5, 0, 11, 3, 7])
    cache = encode_features(
        model, task, data.train, features, data.train_lengths[features], 2, 0,
        torch.device("cpu"), contextlib.nullcontext,
    )  # fmt: skip
    for position, feature in enumerate(features):
        batch, _, _ = collate(rows(data.train, np.array([feature])), np.arange(1), 0)
        with torch.no_grad():
            alone = model.encode(task, batch)[0]
        cached = cache.features[position][: alone.shape[0]]
        torch.testing.assert_close(cached, alone, atol=1e-5, rtol=1e-4)
        key = "start_positions" if task == "synth_span" else "labels"
        assert cache.targets[key][position] == batch[key][0]


def test_mean_pooling_ignores_padding() -> None:
    hidden = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    pooled = pool(hidden, mask, "mean")
    torch.testing.assert_close(pooled[0], hidden[0, :2].mean(0))
    torch.testing.assert_close(pooled[1], hidden[1].mean(0))
    torch.testing.assert_close(pool(hidden, mask, "first"), hidden[:, 0])
