"""Summarization on encoder-decoder base models: decoder loss, generation, ROUGE, export, resume."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from transformers import AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer, EncoderDecoderModel

from studio.core.config.models import SEQ2SEQ_MODEL, minilm_folder
from studio.core.config.run import RunConfig
from studio.core.sink import MemorySink
from studio.core.tasks.spec import TaskSpec
from studio.train import checkpoint as ckpt
from studio.train.batching import collate
from studio.train.export import export_checkpoint
from studio.train.finetune import load_source
from studio.train.loop import train
from studio.train.model import MultiTaskModel, _token_symmetric_kl
from studio.train.seq2seq import ensure_minilm_seq2seq
from studio.train.setup import Workspace, check_tasks, load_backbone, load_tokenizer
from tests.support import StopAt, series, tiny_config

pytestmark = pytest.mark.train

MIX = ("synth_summary", "synth_sentiment", "synth_choice")


def _config(model: str, **changes: object) -> RunConfig:
    base = tiny_config(
        model,
        MIX,
        max_steps=6,
        log_every=3,
        learning_rate=3e-3,
        max_target_length=16,
        tasks_per_update=3,
        eval_max_examples=8,
        seed=3,
    )
    return base.replace(**changes)


class LogSink(MemorySink):
    """A memory sink that also keeps the run's log messages."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def log(self, level: str, message: str) -> None:
        super().log(level, message)
        self.messages.append(message)


def test_mixed_run_trains_generates_scores_rouge_and_exports(
    tiny_bart: str, workspace: Workspace, tmp_path: Path
) -> None:
    sink = LogSink()
    config = _config(tiny_bart, max_steps=30, log_every=5, num_beams=2)
    result = train(config, sink, threading.Event(), workspace, run_dir=tmp_path / "run")
    assert result.status == "finished"

    loss = series(sink, "loss", "synth_summary")
    assert loss[5] == pytest.approx(math.log(30522), rel=0.1)  # untrained: uniform over vocab
    assert loss[30] < 0.9 * loss[5]  # the decoder learns
    scale = series(sink, "loss_scale", "synth_summary")
    assert scale[30] == pytest.approx(1 / math.log(30522))  # log n, n = vocabulary size
    for metric in ("eval_rouge_1", "eval_rouge_2", "eval_rouge_l", "eval_loss"):
        assert 30 in series(sink, metric, "synth_summary"), metric
    assert 30 in series(sink, "eval_accuracy", "synth_choice")
    summary = result.eval_metrics["synth_summary"]
    assert 0 <= summary["rouge_2"] <= summary["rouge_1"] <= 1
    shown = [m for m in sink.messages if "synth_summary #" in m]
    assert len(shown) == 3 and all("reference:" in m and "generated:" in m for m in shown)

    checkpoint = ckpt.complete_checkpoints(tmp_path / "run" / "checkpoints")[30]
    out = export_checkpoint(checkpoint, tmp_path / "export")
    heads = json.loads((out / "heads.json").read_text())["heads"]
    assert {h["head"] for h in heads} == {"classification/synth_sentiment", "multiple_choice"}
    assert "AutoModelForSeq2SeqLM" in (out / "README.md").read_text()

    model = AutoModelForSeq2SeqLM.from_pretrained(out)
    with safe_open(str(checkpoint / "model.safetensors"), framework="pt") as f:
        trained = {k.removeprefix("encoder."): f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    state = model.state_dict()
    shared = [k for k in trained if k in state]
    assert len(shared) > 20
    assert all(torch.equal(state[k], trained[k]) for k in shared)
    tokenizer = AutoTokenizer.from_pretrained(out)
    enc = tokenizer(["Alice travelled to Oslo last week."], return_tensors="pt")
    ids = model.generate(
        input_ids=enc["input_ids"],
        attention_mask=enc["attention_mask"],
        max_new_tokens=5,
        do_sample=False,
    )
    assert ids.shape[0] == 1 and 1 < ids.shape[1] <= 6
    assert ids[0, 0] == tokenizer.cls_token_id  # the decoder start survived the export
    # A transfer experiment can start from either: the encoder-decoder with its heads.
    for source in (load_source(str(checkpoint)), load_source(str(out))):
        assert source.backbone.config.is_encoder_decoder
        assert {"multiple_choice", "classification/synth_sentiment"} <= set(source.heads)


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> str:
    """T5's ways: relative positions, no token types, the decoder starts at the pad id."""
    from transformers import T5Config, T5ForConditionalGeneration, set_seed

    folder = tmp_path_factory.mktemp("tiny-t5")
    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    set_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_t5_trains_all_four_families_and_exports(
    tiny_t5: str, workspace: Workspace, tmp_path: Path
) -> None:
    sink = LogSink()
    tasks = (*MIX, "synth_span")
    config = _config(tiny_t5, tasks=tasks, tasks_per_update=4, max_steps=6, log_every=6)
    result = train(config, sink, threading.Event(), workspace, run_dir=tmp_path / "run")
    assert result.status == "finished"
    assert set(result.eval_metrics) == set(tasks)
    assert all(math.isfinite(v) for v in series(sink, "total_loss").values())

    checkpoint = ckpt.complete_checkpoints(tmp_path / "run" / "checkpoints")[6]
    out = export_checkpoint(checkpoint, tmp_path / "export")
    model = AutoModelForSeq2SeqLM.from_pretrained(out)
    ids = torch.tensor([[101, 2000, 2001, 102]])
    generated = model.generate(input_ids=ids, max_new_tokens=4, do_sample=False)
    assert generated[0, 0] == model.config.decoder_start_token_id == 0


def test_stop_then_resume_equals_a_straight_run(
    tiny_bart: str, workspace: Workspace, tmp_path: Path
) -> None:
    config = _config(tiny_bart, log_every=1)
    straight = MemorySink()
    train(config, straight, threading.Event(), workspace)

    stop = threading.Event()
    first = StopAt(stop, 3)
    assert train(config, first, stop, workspace, run_dir=tmp_path).step == 3
    saved = ckpt.complete_checkpoints(tmp_path / "checkpoints")[3]
    second = MemorySink()
    train(config, second, threading.Event(), workspace, run_dir=tmp_path, resume=saved)
    for name, task in [("total_loss", None), ("grad_norm", None), ("loss", "synth_summary")]:
        expected = series(straight, name, task)
        got = series(first, name, task) | series(second, name, task)
        assert sorted(got) == sorted(expected), name
        for step in expected:
            assert got[step] == pytest.approx(expected[step], rel=1e-4, abs=1e-6), (name, step)


@pytest.mark.parametrize("noise", ["uniform", "normal"])
def test_r3f_works_for_generation(
    tiny_bart: str, workspace: Workspace, noise: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    terms: list[float] = []
    original = MultiTaskModel._r3f

    def spy(self, task, *args):  # type: ignore[no-untyped-def]
        kl = original(self, task, *args)
        if task == "synth_summary":
            terms.append(float(kl.detach()))
        return kl

    monkeypatch.setattr(MultiTaskModel, "_r3f", spy)
    sink = MemorySink()
    config = _config(
        tiny_bart, tasks=("synth_summary",), tasks_per_update=1, max_steps=2, log_every=1
    )
    train(
        config.replace(r3f_lambda=1.0, r3f_eps=0.5, r3f_noise=noise),
        sink,
        threading.Event(),
        workspace,
    )
    assert len(terms) == 2 and all(t > 0 and math.isfinite(t) for t in terms)
    plain = MemorySink()
    train(config, plain, threading.Event(), workspace)
    assert sink.values("total_loss")[0] > plain.values("total_loss")[0]


def _summary_spec(catalog: dict[str, TaskSpec]) -> list[TaskSpec]:
    return [catalog["synth_summary"], catalog["synth_sentiment"]]


@torch.no_grad()
def test_loss_is_label_smoothed_and_averaged_per_example(
    tiny_bart: str, catalog: dict[str, TaskSpec]
) -> None:
    model = MultiTaskModel(load_backbone(tiny_bart), _summary_spec(catalog), "shared", 0.1)
    assert set(model.heads) == {"classification/synth_sentiment"}  # no summarization head
    features = {
        "input_ids": [[101, 2000, 2001, 102], [101, 2003, 102]],
        "labels": [[101, 2000, 102], [101, 2004, 2005, 2006, 2007, 102]],
    }
    batch, real, computed = collate(features, torch.arange(2).numpy(), 0)
    assert batch["labels"][0].tolist() == [101, 2000, 102, -100, -100, -100]
    assert (real, computed) == (7 + 9, 8 + 12)
    model.eval()
    logits = model.logits("synth_summary", batch)
    losses = model.example_losses("synth_summary", logits, batch)
    assert losses.shape == (2,)
    for i, n in enumerate((3, 6)):
        expected = F.cross_entropy(logits[i, :n], batch["labels"][i, :n], label_smoothing=0.1)
        assert losses[i] == pytest.approx(float(expected), rel=1e-5)
    # Padding the batch wider must not change an example's loss.
    wider = collate(features, torch.arange(2).numpy(), 0, multiple=8)[0]
    again = model.example_losses("synth_summary", model.logits("synth_summary", wider), wider)
    assert torch.allclose(again, losses, atol=1e-5)


def test_token_symmetric_kl_ignores_padding() -> None:
    clean = torch.randn(2, 4, 10)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    assert float(_token_symmetric_kl(clean, clean, mask)) == pytest.approx(0.0, abs=1e-6)
    noisy = clean.clone()
    noisy[0, 2:] += 5  # only padding positions differ
    assert float(_token_symmetric_kl(clean, noisy, mask)) == pytest.approx(0.0, abs=1e-6)
    noisy[1, 0] += torch.randn(10)
    assert float(_token_symmetric_kl(clean, noisy, mask)) > 0


@torch.no_grad()
def test_heads_read_the_encoder_of_an_encoder_decoder(
    tiny_bart: str, catalog: dict[str, TaskSpec]
) -> None:
    model = MultiTaskModel(load_backbone(tiny_bart), _summary_spec(catalog), "shared")
    model.eval()
    ids = torch.tensor([[101, 2000, 2001, 102]])
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": ids * 0}
    seen: list[torch.Tensor] = []
    handle = model.encoder.get_encoder().register_forward_hook(
        lambda module, args, output: seen.append(output.last_hidden_state)
    )
    logits = model.logits("synth_sentiment", batch)
    handle.remove()
    assert logits.shape == (1, 2) and len(seen) == 1  # token types dropped: BART takes none
    head = model.heads["classification/synth_sentiment"]
    assert torch.allclose(head(seen[0].mean(1)), logits)  # mean pooling over the 4 tokens


def test_a_long_minimum_length_yields_to_the_runs_bound(
    tiny_bart: str, catalog: dict[str, TaskSpec]
) -> None:
    """bart-large-cnn asks for 56 tokens at least; a shorter bound must not warn at every eval."""
    model = MultiTaskModel(load_backbone(tiny_bart), _summary_spec(catalog), "shared")
    model.encoder.generation_config.min_length = 56
    ids = torch.tensor([[101, 2000, 2001, 102]])
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    out = model.generate(batch, max_new_tokens=8, num_beams=2)  # warnings are errors here
    assert out.shape[1] <= 9
    assert model.encoder.generation_config.min_length == 56  # the model's own default is kept


def test_minilm_seq2seq_is_built_once_and_generates(
    studio_home: Path, workspace: Workspace, catalog: dict[str, TaskSpec]
) -> None:
    config = RunConfig(tasks=("synth_summary",), model=SEQ2SEQ_MODEL, device="cpu")
    check_tasks(config, workspace)  # accepted: builds the model on first use
    folder = studio_home / "models" / SEQ2SEQ_MODEL
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_minilm_seq2seq() == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rebuilt

    model, tokenizer = load_backbone(SEQ2SEQ_MODEL), load_tokenizer(SEQ2SEQ_MODEL)
    assert isinstance(model, EncoderDecoderModel)
    assert (model.config.decoder_start_token_id, model.config.pad_token_id) == (
        tokenizer.cls_token_id,
        tokenizer.pad_token_id,
    )
    assert model.generation_config.eos_token_id == tokenizer.sep_token_id
    minilm = AutoModel.from_pretrained(minilm_folder())
    for side in (model.encoder, model.decoder.bert):  # warm-started from MiniLM on both sides
        assert torch.equal(
            side.embeddings.word_embeddings.weight, minilm.embeddings.word_embeddings.weight
        )

    net = MultiTaskModel(model, _summary_spec(catalog), "shared").eval()
    enc = tokenizer(["Alice travelled to Oslo last week."], return_tensors="pt")
    labels = tokenizer(text_target=["Alice went to Oslo."], return_tensors="pt")["input_ids"]
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    with torch.no_grad():
        losses, _ = net("synth_summary", {**batch, "labels": labels})
        ids = net.generate(batch, max_new_tokens=3, num_beams=1)
    assert losses.shape == (1,) and math.isfinite(float(losses[0]))
    assert ids[0, 0] == tokenizer.cls_token_id and ids.shape[1] <= 4
