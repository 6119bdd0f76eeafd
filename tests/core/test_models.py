"""Base model names: resolving them, and telling encoder-decoders apart without loading them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.config.models import (
    BASE_MODELS,
    CATALOG,
    CATALOGUED,
    DEFAULT_MODEL,
    FINETUNE_RATES,
    SEQ2SEQ_MODEL,
    check_model,
    encoders,
    finetune_rate,
    is_encoder_decoder,
    minilm_folder,
    model_size,
    pretrain_rate,
    rate_note,
    resolve_model,
)
from studio.core.errors import ConfigError


def test_named_models_resolve_to_folders(studio_home: Path) -> None:
    assert resolve_model(DEFAULT_MODEL) == str(minilm_folder())
    # Built on first use by studio.train; resolving it never builds or needs it to exist.
    assert resolve_model(SEQ2SEQ_MODEL) == str(studio_home / "models" / SEQ2SEQ_MODEL)
    assert resolve_model("facebook/bart-base") == "facebook/bart-base"


def test_a_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (SEQ2SEQ_MODEL, True),
        (DEFAULT_MODEL, False),
        ("facebook/bart-base", True),
        ("facebook/bart-large-cnn", True),
        ("sshleifer/distilbart-cnn-12-6", True),
        ("facebook/mbart-large-50", True),
        ("t5-small", True),
        ("google/flan-t5-base", True),
        ("google/mt5-small", True),
        ("google/pegasus-xsum", True),
        ("allenai/led-base-16384", True),
        ("Helsinki-NLP/opus-mt-en-de", True),
        ("roberta-base", False),
        ("bert-base-uncased", False),
        ("microsoft/deberta-v3-base", False),
        ("distilbert-base-uncased", False),
        ("", False),
    ],
)
def test_hub_ids_are_judged_by_name(name: str, expected: bool) -> None:
    assert is_encoder_decoder(name) is expected


def _folder(tmp_path: Path, config: object, name: str = "model") -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


def test_folders_are_judged_by_their_config(tmp_path: Path) -> None:
    # A folder named like BART is still judged by what its config.json says.
    assert not is_encoder_decoder(_folder(tmp_path, {"model_type": "bert"}, "my-bart"))
    assert is_encoder_decoder(_folder(tmp_path, {"model_type": "t5"}, "a"))
    assert is_encoder_decoder(
        _folder(tmp_path, {"model_type": "x", "is_encoder_decoder": True}, "b")
    )
    assert not is_encoder_decoder(
        _folder(tmp_path, {"model_type": "bart", "is_encoder_decoder": False}, "c")
    )
    assert is_encoder_decoder(_folder(tmp_path, {"model_type": "encoder-decoder"}, "d"))
    assert not is_encoder_decoder(_folder(tmp_path, ["not", "a", "mapping"], "e"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert not is_encoder_decoder(str(broken))
    empty = tmp_path / "empty-bart"
    empty.mkdir()
    assert not is_encoder_decoder(str(empty))  # a folder is never guessed from its name


def test_a_transfer_offers_the_encoders_of_the_offered_models() -> None:
    assert encoders() == [
        m.name for m in CATALOG if m.family not in ("bart", "t5", "encoder-decoder")
    ]
    assert {"minilm", "roberta-base", "microsoft/deberta-v3-base"} <= set(encoders())


def test_every_offered_model_is_described() -> None:
    assert [name for name, _ in BASE_MODELS] == [m.name for m in CATALOG]
    deberta = CATALOGUED["microsoft/deberta-v3-base"].description
    assert (
        "deberta-v2" in deberta and "SentencePiece" in deberta and "needs sentencepiece" in deberta
    )
    assert "8,192 tokens" in CATALOGUED["answerdotai/ModernBERT-base"].description
    assert "100 languages" in CATALOGUED["FacebookAI/xlm-roberta-base"].description
    assert all(m.size in FINETUNE_RATES and m.params > 0 for m in CATALOG)


def test_learning_rates_follow_the_model_size(tmp_path: Path) -> None:
    assert (finetune_rate("minilm"), finetune_rate("roberta-base")) == (1e-4, 2e-5)
    assert finetune_rate("roberta-large") == 1e-5 and pretrain_rate("roberta-base") == 3e-5
    # Unlisted: a folder by its width, a hub id by its name.
    assert model_size(_folder(tmp_path, {"model_type": "bert", "hidden_size": 384}, "a")) == "small"
    assert model_size(_folder(tmp_path, {"model_type": "t5", "d_model": 768}, "b")) == "base"
    assert (
        model_size(_folder(tmp_path, {"model_type": "bert", "hidden_size": 1024}, "c")) == "large"
    )
    assert model_size("someone/bert-large-cased") == "large"
    assert model_size("google/electra-small-discriminator") == "small"
    assert model_size("someone/encoder") == "base"
    said = "learning rate 2e-05: the rate for a base-sized base model (roberta-base)"
    assert rate_note("roberta-base", 2e-5) == said
    assert rate_note("roberta-base", 1e-4, pretraining=True) == (
        "learning rate 0.0001 as set (roberta-base is base-sized; its rate is 3e-05)"
    )


def test_a_model_that_needs_remote_code_is_refused(tmp_path: Path) -> None:
    auto = {"AutoModel": "modeling_x.XModel", "AutoConfig": "configuration_x.XConfig"}
    folder = _folder(tmp_path, {"model_type": "bert", "auto_map": auto})
    with pytest.raises(ConfigError, match=r"own Python code \(AutoConfig, AutoModel in auto_map\)"):
        check_model(folder)
    check_model(_folder(tmp_path, {"model_type": "bert"}, "plain"))  # no error
    tokenizer_only = _folder(tmp_path, {"model_type": "bert"}, "custom-tokenizer")
    (Path(tokenizer_only) / "tokenizer_config.json").write_text(
        json.dumps({"auto_map": {"AutoTokenizer": ["tok.XTokenizer", None]}})
    )
    with pytest.raises(ConfigError, match="trust_remote_code stays off"):
        check_model(tokenizer_only)


def test_a_hub_id_offline_and_not_cached_is_refused_naming_how_to_fetch_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ConfigError, match=r"someone/absent-model .*offline.*hf download someone/absent-model"
    ):
        check_model("someone/absent-model")
    check_model("minilm")  # built in: nothing to fetch
    # Cached: its config is read (and would be refused for remote code).
    snapshot = tmp_path / "hub" / "models--someone--cached" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc")
    check_model("someone/cached")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    check_model("someone/absent-model")  # online: from_pretrained will download it
