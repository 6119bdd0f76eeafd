"""Encoder-decoder base models: which class loads a config, tied-weight loading, minilm-seq2seq.

Summarization trains through the decoder of an encoder-decoder model (BART, T5, any
`AutoModelForSeq2SeqLM`); the other families' heads sit on its encoder's outputs. Offline, the
studio builds `minilm-seq2seq` once: an `EncoderDecoderModel` warm-started from MiniLM on both
sides (the decoder's cross-attention is new and randomly initialised).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    EncoderDecoderModel,
    GenerationConfig,
    PretrainedConfig,
    PreTrainedModel,
)

from studio.core.config.models import minilm_folder, minilm_seq2seq_folder
from studio.core.errors import StudioError

log = logging.getLogger(__name__)


def is_seq2seq(config: PretrainedConfig) -> bool:
    return bool(getattr(config, "is_encoder_decoder", False))


def model_class(config: PretrainedConfig) -> type[AutoModel] | type[AutoModelForSeq2SeqLM]:
    """AutoModelForSeq2SeqLM for an encoder-decoder (its LM head generates), else AutoModel."""
    return AutoModelForSeq2SeqLM if is_seq2seq(config) else AutoModel


def load_tied(model: PreTrainedModel, weights: dict[str, torch.Tensor]) -> list[str]:
    """Load `weights` into `model` (not strictly); return the keys that stayed unset.

    A checkpoint written with safetensors' `save_model` keeps one name per tied tensor (BART's
    shared embeddings and LM head): a missing key is fine when a loaded key is the same tensor.
    A pooler the studio never trains may be missing too.
    """
    missing, unexpected = model.load_state_dict(weights, strict=False)
    state = model.state_dict()

    def identity(key: str) -> tuple[int, int, tuple[int, ...]]:
        t = state[key]
        return t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape)

    loaded = {identity(k) for k in state if k not in set(missing)}
    unset = [k for k in missing if "pooler" not in k and identity(k) not in loaded]
    return unset + [f"unexpected {k}" for k in unexpected]


def load_checkpoint_model(checkpoint: Path, weights: dict[str, torch.Tensor]) -> PreTrainedModel:
    """A checkpoint's base model (an encoder, or an encoder-decoder with its LM head) built
    from its saved config, with `weights` (the `encoder.` entries, prefix removed) loaded."""
    config = AutoConfig.from_pretrained(checkpoint / "encoder")
    model = model_class(config).from_config(config)
    unset = load_tied(model, weights)
    if unset:
        raise StudioError(
            f"{checkpoint}: the model's weights do not match its config ({unset[:3]})"
        )
    if (checkpoint / "encoder" / "generation_config.json").is_file():
        model.generation_config = GenerationConfig.from_pretrained(checkpoint / "encoder")
    return model


def ensure_minilm_seq2seq(folder: Path | None = None) -> Path:
    """Build `minilm-seq2seq` under STUDIO_HOME on first use (atomically); return its folder."""
    folder = folder or minilm_seq2seq_folder()
    if (folder / "config.json").is_file():
        return folder
    source = str(minilm_folder())
    log.info("building minilm-seq2seq (MiniLM encoder + MiniLM decoder) in %s", folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        # Seeded: the new cross-attention weights must be the same on every machine.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = EncoderDecoderModel.from_encoder_decoder_pretrained(source, source)
        # BERT-style ids: generation starts at [CLS], stops at [SEP], pads with [PAD].
        for settings in (model.config, model.generation_config):
            settings.decoder_start_token_id = tokenizer.cls_token_id
            settings.pad_token_id = tokenizer.pad_token_id
            settings.eos_token_id = tokenizer.sep_token_id
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if folder.exists() and not (folder / "config.json").is_file():
            shutil.rmtree(folder)  # left over by an interrupted build
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "config.json").is_file():
                raise
            # Another process finished the same build first; its folder is as good.
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
