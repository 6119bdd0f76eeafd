"""What a base model cannot do is said, not crashed into: a max_length beyond its positions is
cut (with a line in the run's log), and a tokenizer without character offsets is refused for
span QA tasks, naming them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import transformers

from studio.core.errors import ConfigError
from studio.core.experiments.transfer import FinetuneConfig, FinetuneSettings
from studio.core.sink import MemorySink
from studio.core.tasks.spec import TaskSpec
from studio.session import execute
from studio.train.finetune import finetune
from studio.train.positions import readable_length
from studio.train.setup import Workspace, load_tokenizer
from tests.model_zoo import make_model_folder, synthetic_texts
from tests.support import tiny_config

pytestmark = pytest.mark.train

SHORT = 16  # positions: every synthetic span context is longer


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return synthetic_texts(per_task=20)


def test_the_readable_length_comes_from_the_tokenizer_or_the_positions() -> None:
    stated = type("Tok", (), {"model_max_length": 512})()
    unstated = type("Tok", (), {"model_max_length": int(1e30)})()
    roberta = transformers.RobertaConfig(max_position_embeddings=514)
    assert readable_length(stated, roberta) == 512
    assert readable_length(unstated, roberta) == 512  # 514 rows less the padding offset
    assert readable_length(unstated, transformers.BertConfig(max_position_embeddings=256)) == 256
    # Relative positions read any length: only a stated bound limits them.
    deberta = transformers.DebertaV2Config(position_biased_input=False)
    assert readable_length(unstated, deberta) is None
    assert readable_length(unstated, transformers.T5Config()) is None
    assert readable_length(stated, transformers.T5Config()) == 512


def test_a_max_length_beyond_the_positions_is_cut_and_said(
    texts: list[str], catalog: dict[str, TaskSpec], tmp_path: Path, studio_home: Path
) -> None:
    # A RoBERTa whose tokenizer states no bound: only its 18-row table (16 positions) says it.
    folder = make_model_folder("roberta", tmp_path / "roberta", texts, positions=SHORT, stated=0)
    config = tiny_config(
        folder, ("synth_span", "synth_choice"), max_steps=2, max_length=48, batch_size=4,
        num_threads=1, eval_every=2, eval_max_examples=4,
    )  # fmt: skip
    sink = MemorySink()
    outcome = execute(config, catalog, None, tmp_path / "studio.db", threading.Event(), sink)
    assert (outcome.status, outcome.step) == ("finished", 2), outcome.error
    said = f"max_length 48 is more than {folder} reads ({SHORT} tokens); inputs are cut at {SHORT}"
    assert ("warning", said) in sink.logs
    (plan,) = sink.plans  # the span task's log-n scale counts the positions it has
    assert {t.task: t.size for t in plan.tasks}["synth_span"] == SHORT
    settings = FinetuneSettings(
        batch_size=4, epochs=1.0, min_steps=1, max_length=48, eval_max_examples=4,
        device="cpu", num_threads=1,
    )  # fmt: skip
    tuned = MemorySink()
    ws = Workspace.default(catalog)
    result = finetune(
        FinetuneConfig("synth_span", folder, 8, settings=settings), tuned, threading.Event(), ws
    )
    assert result.status == "finished"
    assert ("warning", said) in tuned.logs


def test_a_tokenizer_without_offsets_is_refused_for_span_tasks_only(
    texts: list[str], catalog: dict[str, TaskSpec], tmp_path: Path
) -> None:
    folder = Path(make_model_folder("bert", tmp_path / "bert", texts))
    fast = transformers.AutoTokenizer.from_pretrained(folder)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(sorted(fast.get_vocab(), key=fast.get_vocab().get)) + "\n")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    transformers.BertTokenizerLegacy(vocab_file=str(vocab)).save_pretrained(folder)
    with pytest.raises(ConfigError, match=r"BertTokenizerLegacy.*no character offsets.*synth_span"):
        load_tokenizer(str(folder), ["synth_span"])
    db = tmp_path / "studio.db"
    spans = tiny_config(str(folder), ("synth_sentiment", "synth_span"), max_steps=1, num_threads=1)
    refused = execute(spans, catalog, None, db, threading.Event())
    assert refused.status == "failed" and "['synth_span'] need them" in str(refused.error)
    plain = spans.replace(tasks=("synth_sentiment",), eval_every=1, eval_max_examples=4)
    assert execute(plain, catalog, None, db, threading.Event()).status == "finished"


def test_a_first_non_finite_loss_fails_the_run_naming_model_and_precision(
    texts: list[str], catalog: dict[str, TaskSpec], tmp_path: Path
) -> None:
    import torch

    folder = make_model_folder("bert", tmp_path / "nan-bert", texts)
    model = transformers.AutoModel.from_pretrained(folder)
    with torch.no_grad():
        model.embeddings.LayerNorm.weight[0] = float("nan")
    model.save_pretrained(folder)
    config = tiny_config(folder, ("synth_sentiment",), max_steps=5, log_every=50, num_threads=1)
    outcome = execute(config, catalog, None, tmp_path / "studio.db", threading.Event())
    assert outcome.status == "failed" and outcome.step == 0
    assert f"became nan by update 1 (model {folder}, cpu (fp32 precision))" in str(outcome.error)
