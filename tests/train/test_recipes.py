"""tasknet's recipe as settings: the task embedding (first token only, dropped at its rate in
training and never in evaluation, resumed exactly, exported, reused by a fine-tuning) and
heads shared by label set."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import BertConfig, BertModel

from studio.core.experiments.transfer import FinetuneConfig, FinetuneSettings
from studio.core.sink import MemorySink
from studio.core.tasks.spec import TaskSpec
from studio.train import checkpoint as ckpt
from studio.train.export import export_checkpoint
from studio.train.finetune import finetune
from studio.train.loop import train
from studio.train.model import MultiTaskModel, label_set_key
from studio.train.setup import Workspace
from studio.train.task_embedding import KEY, TaskEmbedding
from tests.support import StopAt, save_tiny_bert, series, tiny_config

pytestmark = pytest.mark.train

TASKS = ("synth_sentiment", "synth_topic", "synth_choice")
TASKNET = {"task_embedding": True, "head_sharing": "by_label_set", "mixing": "homogeneous"}


def _encoder() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    return BertModel(config)


def _model(catalog: dict[str, TaskSpec], **kwargs: object) -> MultiTaskModel:
    specs = [catalog[t] for t in ("synth_sentiment", "synth_choice")]
    return MultiTaskModel(_encoder(), specs, "shared", **kwargs)  # type: ignore[arg-type]


def test_the_task_vector_is_added_to_the_first_token_only(catalog: dict[str, TaskSpec]) -> None:
    model = _model(catalog, task_embedding=True)
    assert model.task_embedding is not None
    with torch.no_grad():
        model.task_embedding.weight.normal_()
    model.eval()
    ids = torch.randint(5, 100, (3, 7))
    mask = torch.ones_like(ids)
    words = model.encoder.get_input_embeddings()(ids)
    added = model.task_embedding.add(words, [("synth_choice", torch.Size([3, 7]))])
    difference = added - words
    assert torch.equal(difference[:, 1:], torch.zeros_like(difference[:, 1:]))
    vector = model.task_embedding.weight[1]
    assert torch.allclose(difference[:, 0], vector.expand(3, -1))
    # The encoder reads exactly that: its other embeddings go on top as for any token.
    got = model.hidden_states(
        {"input_ids": ids, "attention_mask": mask}, [("synth_choice", ids.shape)]
    )
    expected = model.encoder(inputs_embeds=added, attention_mask=mask).last_hidden_state
    assert torch.allclose(got, expected, atol=1e-6)
    plain = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    assert not torch.allclose(got, plain, atol=1e-4)


def test_the_task_vector_is_dropped_at_its_rate_in_training_only() -> None:
    table = TaskEmbedding(["a", "b"], 4, dropout=0.3)
    with torch.no_grad():
        table.weight.fill_(1.0)
    torch.manual_seed(1)
    table.train()
    rows = table.vectors([("a", torch.Size([20_000, 9]))])
    dropped = (rows.abs().sum(-1) == 0).float().mean().item()
    assert dropped == pytest.approx(0.3, abs=0.015)
    # Multiple choice: the choices of one question are one example, dropped together.
    choices = table.vectors([("b", torch.Size([500, 4, 9]))]).abs().sum(-1).view(500, 4)
    assert torch.all((choices == 0).all(-1) | (choices > 0).all(-1))
    assert 0 < (choices == 0).all(-1).sum() < 500
    table.eval()
    rows = table.vectors([("a", torch.Size([5000, 9])), ("b", torch.Size([50, 4, 9]))])
    assert torch.all(rows == 1.0)


def test_label_set_sharing_builds_one_head_per_label_set(catalog: dict[str, TaskSpec]) -> None:
    sentiment = catalog["synth_sentiment"]  # (negative, positive)
    flipped = dataclasses.replace(sentiment, name="flipped", labels=("positive", "negative"))
    names = ("synth_topic", "synth_pair", "synth_choice", "synth_span", "synth_regression")
    specs = [sentiment, flipped, *(catalog[n] for n in names)]
    model = MultiTaskModel(_encoder(), specs, "by_label_set").eval()
    shared = label_set_key(("negative", "positive"))
    assert model.head_of["synth_sentiment"] == model.head_of["flipped"] == shared
    assert len({model.head_of[n] for n in ("synth_topic", "synth_pair", "synth_sentiment")}) == 3
    assert model.head_of["synth_choice"] == "multiple_choice"
    assert model.head_of["synth_span"] == "extractive_qa"
    assert model.head_of["synth_regression"] == "regression/synth_regression"
    assert len(model.heads) == 6
    # One head, each task reading its own label order.
    features = torch.randn(3, 16)
    own = model.head_logits("synth_sentiment", features)
    assert torch.equal(model.head_logits("flipped", features), own[:, [1, 0]])
    described = {h["head"]: h for h in model.describe_heads()}
    assert described[shared]["tasks"] == ["synth_sentiment", "flipped"]
    assert described[shared]["labels"] == ["negative", "positive"]
    # Per dataset and shared keep them apart, as before.
    for sharing in ("shared", "per_dataset"):
        apart = MultiTaskModel(_encoder(), specs, sharing)
        assert apart.head_of["synth_sentiment"] != apart.head_of["flipped"]


def test_tasknet_recipe_resumes_exactly(
    tiny_model: str, workspace: Workspace, tmp_path: Path
) -> None:
    config = tiny_config(tiny_model, TASKS, max_steps=8, learning_rate=1e-3, seed=3, **TASKNET)
    config = config.replace(task_embedding_dropout=0.5)  # draws that a resume must repeat
    straight = MemorySink()
    train(config, straight, threading.Event(), workspace)
    stop = threading.Event()
    first = StopAt(stop, 4)
    train(config, first, stop, workspace, run_dir=tmp_path)
    saved = ckpt.complete_checkpoints(tmp_path / "checkpoints")
    with safe_open(str(saved[4] / "model.safetensors"), framework="pt") as f:
        vectors = f.get_tensor(KEY)
    assert vectors.shape == (len(TASKS), 32) and vectors.abs().sum() > 0  # trained, saved
    second = MemorySink()
    train(config, second, threading.Event(), workspace, run_dir=tmp_path, resume=saved[4])
    for name, task in [("total_loss", None), ("grad_norm", None), ("loss", "synth_topic")]:
        expected = series(straight, name, task)
        got = series(first, name, task) | series(second, name, task)
        for step in expected:
            assert got[step] == pytest.approx(expected[step], rel=1e-4, abs=1e-6), (name, step)


def test_a_fused_update_adds_the_same_task_vectors(
    workspace: Workspace, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # No dropout anywhere: the two paths draw their random numbers in different orders.
    still = save_tiny_bert(
        tmp_path_factory.mktemp("still"), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    config = tiny_config(
        still, (*TASKS, "synth_span"), max_steps=3, learning_rate=1e-3, seed=5,
        task_embedding=True, task_embedding_dropout=0.0, head_sharing="by_label_set",
    )  # fmt: skip
    sinks = {}
    for fuse in ("off", "on"):
        sinks[fuse] = MemorySink()
        train(config.replace(fuse_update=fuse), sinks[fuse], threading.Event(), workspace)
    expected, got = series(sinks["off"], "total_loss"), series(sinks["on"], "total_loss")
    assert sorted(got) == sorted(expected) == [1, 2, 3]
    for step in expected:
        assert got[step] == pytest.approx(expected[step], rel=1e-4), step


def test_an_export_carries_the_task_vectors_and_a_finetuning_starts_from_them(
    catalog: dict[str, TaskSpec], tiny_model: str, workspace: Workspace, tmp_path: Path
) -> None:
    tasks = ("synth_sentiment", "synth_pair", "synth_choice")
    config = tiny_config(tiny_model, tasks, max_steps=4, checkpoint_every=4, **TASKNET)
    train(config, MemorySink(), threading.Event(), workspace, run_dir=tmp_path / "run")
    saved = ckpt.complete_checkpoints(tmp_path / "run" / "checkpoints")[4]
    out = export_checkpoint(saved, tmp_path / "export")
    described = json.loads((out / "heads.json").read_text())
    assert described["task_embedding"]["tasks"] == list(tasks)
    weights = load_file(str(out / "heads.safetensors"))
    assert weights[KEY].shape == (3, 32)
    assert label_set_key(("negative", "positive")) in {h["head"] for h in described["heads"]}
    fast = FinetuneSettings(
        learning_rate=3e-3, batch_size=8, epochs=1.0, min_steps=2, max_length=64,
        eval_max_examples=20, device="cpu",
    )  # fmt: skip
    for source in (str(out), str(saved)):
        sink = MemorySink()
        result = finetune(
            FinetuneConfig("synth_sentiment", source, k=8, reuse_heads=True, settings=fast),
            sink, threading.Event(), Workspace.default(catalog),
        )  # fmt: skip
        assert result.status == "finished"
        assert result.head_reused == label_set_key(("negative", "positive"))
        assert any("task vector of synth_sentiment" in m for _, m in sink.logs)
    # A task the run never saw reads no vector.
    sink = MemorySink()
    result = finetune(
        FinetuneConfig("synth_topic", str(out), k=8, settings=fast),
        sink, threading.Event(), Workspace.default(catalog),
    )  # fmt: skip
    assert result.status == "finished"
    assert not any("task vector" in m for _, m in sink.logs)
