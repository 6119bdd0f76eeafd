"""Trying and publishing a model: `predict` on an export answers what plain transformers and
heads.json applied by hand answer; on a run's checkpoint every matching head answers (span
answers inside the context); validation records the examples it got most wrong; `export
--hub-ready` writes a card the Hub's parser reads back; `publish` offline stops before the
network."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from studio.cli.commands import main
from studio.core.jobs import HeadPrediction, PredictResult
from studio.core.mistakes import FILE, read_mistakes
from studio.core.paths import run_dir
from studio.core.tasks.spec import TaskSpec
from studio.core.wire import from_json, to_json
from studio.session import execute
from studio.store import RunStore
from tests.support import tiny_config

pytestmark = pytest.mark.train

TASKS = ("synth_sentiment", "synth_pair", "synth_regression", "synth_choice", "synth_span")


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: str, catalog: dict[str, TaskSpec]
) -> Iterator[tuple[Path, str, Path]]:
    """(store, run id, plain export) of one short run on five formats, validated twice."""
    folder = tmp_path_factory.mktemp("predict")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(folder / "home"))
        db = folder / "studio.db"
        config = tiny_config(tiny_model, TASKS, max_steps=4, eval_every=2, checkpoint_every=2)
        outcome = execute(config, catalog, None, db, threading.Event())
        assert outcome.status == "finished", outcome.error
        export = folder / "export"
        assert main(["export", outcome.run_id, str(export), "--store", str(db)]) == 0
        yield db, outcome.run_id, export


def _predict(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["predict", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _by_hand(export: Path, task: str, text: str, pair: str | None) -> tuple[str, list[float]]:
    """heads.json applied by hand on what plain transformers loads from the export."""
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    heads = json.loads((export / "heads.json").read_text())["heads"]
    (head,) = [h for h in heads if task in h["tasks"]]
    weights = load_file(str(export / "heads.safetensors"))
    key = head["head"]
    model = AutoModel.from_pretrained(export).eval()
    tokenizer = AutoTokenizer.from_pretrained(export)
    inputs = tokenizer(text, pair, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**inputs).last_hidden_state
        if head["architecture"]["pooling"] == "first token":
            pooled = hidden[:, 0]
        else:
            mask = inputs["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1)
        dense = torch.tanh(pooled @ weights[f"{key}.dense.weight"].T + weights[f"{key}.dense.bias"])
        logits = dense @ weights[f"{key}.out.weight"].T + weights[f"{key}.out.bias"]
    chances = torch.softmax(logits[0], -1).tolist()
    return head["labels"][max(range(len(chances)), key=chances.__getitem__)], chances


@pytest.mark.parametrize(
    ("task", "texts"),
    [
        ("synth_sentiment", ["a truly great film"]),
        ("synth_pair", ["a cat sat", "a cat is sitting"]),
    ],
)
def test_predict_on_an_export_is_transformers_with_the_heads_by_hand(
    trained: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str], task: str, texts: list[str]
) -> None:
    _, _, export = trained
    out = _predict(capsys, str(export), "--task", task, *texts)
    (prediction,) = out["predictions"]
    label, chances = _by_hand(export, task, texts[0], texts[1] if len(texts) > 1 else None)
    heads = json.loads((export / "heads.json").read_text())["heads"]
    labels = next(h["labels"] for h in heads if task in h["tasks"])
    assert prediction["label"] == label and prediction["tasks"] == [task]
    got = dict(prediction["probabilities"])
    assert got == pytest.approx(dict(zip(labels, chances, strict=True)), abs=1e-5)
    assert sum(got.values()) == pytest.approx(1.0)


def test_predict_on_a_run_answers_with_every_matching_head(
    trained: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id, _ = trained
    store = ["--store", str(db)]
    out = _predict(capsys, run_id, *store, "--checkpoint", "latest", "not bad at all")
    assert "checkpoints" in out["source"]
    found = {tuple(p["tasks"]): p for p in out["predictions"]}
    assert set(found) == {("synth_sentiment",), ("synth_regression",)}
    assert found[("synth_regression",)]["value"] is not None
    choice = _predict(capsys, run_id, *store, "pick one", "--choices", "red", "blue", "green")
    (mc,) = choice["predictions"]
    assert mc["format"] == "multiple_choice" and mc["label"] in ("red", "blue", "green")
    assert [c for c, _ in mc["probabilities"]] != [] and len(mc["probabilities"]) == 3
    context = "The museum in Oslo opened in 1902 and holds ships."
    span = _predict(capsys, run_id, *store, "When did it open?", "--context", context)
    (qa,) = span["predictions"]
    a, b = qa["span"]
    assert qa["label"] == context[a:b] and qa["label"]
    assert 0 < qa["probabilities"][0][1] <= 1
    capsys.readouterr()
    assert main(["predict", run_id, *store, "--task", "synth_choice", "just a sentence"]) == 2
    assert (
        "synth_choice is multiple_choice: give a question and --choices" in capsys.readouterr().err
    )


def test_validation_records_the_examples_most_wrong(
    trained: tuple[Path, str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db, run_id, _ = trained
    found = read_mistakes(run_dir(db, run_id))
    assert found is not None and found.step == 4  # the last evaluation's
    assert {"synth_sentiment", "synth_choice"} <= set(found.tasks) <= set(TASKS) - {"synth_span"}
    for task, mistakes in found.tasks.items():
        assert mistakes, task
        confidences = [m.confidence for m in mistakes]
        assert confidences == sorted(confidences, reverse=True)
        if task != "synth_regression":
            assert all(m.predicted != m.label and 0 < m.confidence <= 1 for m in mistakes)
    assert "text" in found.tasks["synth_sentiment"][0].inputs
    assert "choices" in found.tasks["synth_choice"][0].inputs
    capsys.readouterr()
    args = [run_id, "--store", str(db), "--most-wrong", "--task", "synth_sentiment"]
    assert main(["predict", *args]) == 0
    printed = capsys.readouterr().out
    assert "most wrong at the evaluation of update 4" in printed and "synth_sentiment:" in printed
    assert "synth_choice:" not in printed and "predicted" in printed
    assert (run_dir(db, run_id) / FILE).is_file()


def test_the_hub_ready_card_parses_with_huggingface_hub(
    trained: tuple[Path, str, Path], tmp_path: Path
) -> None:
    from huggingface_hub import ModelCard

    db, run_id, _ = trained
    with RunStore(db) as store:  # a transfer fine-tuned from the run, with two seeds
        transfer = store.create_run("t", "transfer", {}, "", source_run=run_id, status="finished")
        for seed, model, value in ((1, "pretuned", 0.75), (2, "pretuned", 0.85), (1, "base", 0.5)):
            store.add_result(
                {"transfer_id": transfer, "target": "synth_topic", "size": "100", "k": 100,
                 "seed": seed, "model": model, "metric": "accuracy", "value": value}
            )  # fmt: skip
    out = tmp_path / "hub"
    assert main(["export", run_id, str(out), "--store", str(db), "--hub-ready"]) == 0
    card = ModelCard.load(out / "README.md")
    data = card.data
    assert data.library_name == "transformers" and "muppet-studio" in data.tags
    assert "multiple-choice" in data.tags and "question-answering" in data.tags
    assert data.base_model is None  # a local folder is no Hub model
    assert sorted(data.datasets) == sorted(TASKS)
    results = {(r.dataset_name, r.metric_type): r for r in data.eval_results}
    assert results[("synth_sentiment", "accuracy")].task_type == "text-classification"
    assert results[("synth_sentiment", "accuracy")].dataset_split == "validation"
    assert results[("synth_span", "f1")].task_type == "question-answering"
    transfer_row = results[("synth_topic (fine-tuned on 100 training examples)", "accuracy")]
    assert transfer_row.metric_value == pytest.approx(0.8)
    assert "| synth_topic | 100 | accuracy | 0.5000 | 0.8000 |" in card.text
    assert "## Tasks" in card.text  # the export's own card follows the metadata
    assert (out / "heads.json").is_file() and (out / "model.safetensors").is_file()


def test_publish_offline_stops_before_the_network(
    trained: tuple[Path, str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import huggingface_hub

    db, run_id, _ = trained

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("publish reached for the network")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", no_network)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    capsys.readouterr()
    assert main(["publish", run_id, "me/muppet", "--store", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: cannot publish to me/muppet: the Hugging Face Hub is offline")
    assert "HF_HUB_OFFLINE=1" in err and "nothing was exported or uploaded" in err
    assert not list(tmp_path.iterdir())  # no export was started


def test_a_prediction_crosses_the_job_boundary() -> None:
    result = PredictResult(
        "/x",
        (
            HeadPrediction("classification/a", ("a",), "classification", "pos",
                           (("pos", 0.75), ("neg", 0.25))),
            HeadPrediction("extractive_qa", ("q", "r"), "extractive_qa", "Oslo",
                           (("Oslo", 0.5),), span=(3, 7)),
            HeadPrediction("regression/s", ("s",), "regression", "2.5000", value=2.5),
        ),
    )  # fmt: skip
    assert from_json(PredictResult, json.loads(json.dumps(to_json(result)))) == result
