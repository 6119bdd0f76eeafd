"""Tiny, randomly initialised base models of real architectures, each with a tokenizer of its
architecture's real kind, for the support matrix (tests/train/test_model_matrix.py).

Every folder is an ordinary `save_pretrained` model folder (config.json, model.safetensors,
tokenizer.json, tokenizer_config.json): the tokenizer is the architecture's own transformers
class, built from a vocabulary (and merges) trained with the `tokenizers` library on the
synthetic suite's texts, under the normaliser and pre-tokenizer that class applies. Nothing
needs the `sentencepiece` package: Unigram vocabularies are given as (piece, score) lists.

Sizes: hidden 32, 2 layers, 2 heads, intermediate 64, and TINY_POSITIONS usable positions;
learned positions with a padding offset (RoBERTa, XLM-R, MPNet) get 2 rows more, as the real
ones have 514 for 512. A max_length above TINY_POSITIONS overflows the absolute-position
architectures as 512 does the real models.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

TINY_POSITIONS = 128
HIDDEN, LAYERS, HEADS, INTERMEDIATE = 32, 2, 2, 64
VOCAB = 400

ENCODERS = (
    "bert", "roberta", "deberta-v2", "electra", "modernbert", "distilbert", "xlm-roberta",
    "albert", "mpnet",
)  # fmt: skip
SEQ2SEQ = ("bart", "t5")
ARCHITECTURES = ENCODERS + SEQ2SEQ

# What tests/train/test_model_matrix.py runs for each row; the README's support table is
# rendered from these rows (tests/support_table.py), so it claims what the tests check.
MODES = (
    "pretrain", "resume", "export", "load", "transfer", "probe", "span QA", "summarization",
)  # fmt: skip
ENCODER_MODES = MODES[:-1]
# A transfer fine-tunes encoders: an encoder-decoder pre-finetunes (with summarization).
SEQ2SEQ_MODES = ("pretrain", "resume", "export", "load", "span QA", "summarization")


@dataclass(frozen=True)
class Row:
    """One architecture of the matrix: its model_type, what it is called, its tokenizer."""

    arch: str
    name: str
    tokenizer: str

    @property
    def modes(self) -> tuple[str, ...]:
        return SEQ2SEQ_MODES if self.arch in SEQ2SEQ else ENCODER_MODES

    @property
    def stands_for(self) -> tuple[str, ...]:
        """The offered base models of this family (core.config.models.CATALOG)."""
        from studio.core.config.models import CATALOG

        return tuple(m.name for m in CATALOG if m.family == self.arch)


MATRIX = (
    Row("bert", "BERT", "WordPiece, token types"),
    Row("roberta", "RoBERTa", "byte-level BPE, `<s> A </s></s> B </s>`"),
    Row("deberta-v2", "DeBERTa-v3", "SentencePiece Unigram"),
    Row("electra", "ELECTRA", "WordPiece, token types"),
    Row("modernbert", "ModernBERT", "byte-level BPE, no token types"),
    Row("distilbert", "DistilBERT", "WordPiece, no token types"),
    Row("xlm-roberta", "XLM-R", "SentencePiece Unigram"),
    Row("albert", "ALBERT", "SentencePiece Unigram"),
    Row("mpnet", "MPNet", "WordPiece, `<s> A </s></s> B </s>`"),
    Row("bart", "BART", "byte-level BPE"),
    Row("t5", "T5", "SentencePiece Unigram, no [CLS]"),
)


def synthetic_texts(per_task: int = 60) -> list[str]:
    """A few hundred strings of the synthetic suite's records (every text field)."""
    from studio.core.tasks.synthetic import GENERATORS

    texts: list[str] = []
    for name, generate in GENERATORS.items():
        rng = random.Random(f"{name}/zoo")
        for _ in range(per_task):
            record = generate(rng)
            for key in ("text", "text_pair", "context", "question", "document", "summary"):
                if isinstance(record.get(key), str):
                    texts.append(record[key])
            texts += record.get("choices", [])
    return texts


# -- tokenizers ----------------------------------------------------------------------------


def _wordpiece_vocab(texts: list[str], specials: list[str], unk: str) -> dict[str, int]:
    tok = Tokenizer(models.WordPiece(unk_token=unk))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=VOCAB, special_tokens=specials, show_progress=False
    )
    tok.train_from_iterator(texts, trainer)
    return tok.get_vocab()


def _bytelevel_bpe(texts: list[str], specials: list[str]) -> tuple[Tokenizer, dict[str, Any]]:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB + 256,  # the 256 byte symbols come first
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok, json.loads(tok.to_str())["model"]


def _merges(model: dict[str, Any]) -> list[tuple[str, ...]]:
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]


def _unigram_vocab(
    texts: list[str], specials: list[str], unk: str, lowercase: bool = False
) -> list[tuple[str, float]]:
    """SentencePiece-style: Metaspace ("▁", prepended) over NFKC text, a Unigram model."""
    tok = Tokenizer(models.Unigram())
    steps = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=VOCAB, special_tokens=specials, unk_token=unk, show_progress=False,
        max_piece_length=10, shrinking_factor=0.5, n_sub_iterations=1,
    )  # fmt: skip
    tok.train_from_iterator(texts, trainer)
    return [(p, float(s)) for p, s in json.loads(tok.to_str())["model"]["vocab"]]


def _bert_kind(cls_name: str) -> Callable[[list[str]], Any]:
    def build(texts: list[str]) -> Any:
        import transformers

        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        vocab = _wordpiece_vocab(texts, specials, "[UNK]")
        return getattr(transformers, cls_name)(vocab=vocab, do_lower_case=True)

    return build


def _roberta_kind(cls_name: str) -> Callable[[list[str]], Any]:
    def build(texts: list[str]) -> Any:
        import transformers

        _, model = _bytelevel_bpe(texts, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        return getattr(transformers, cls_name)(vocab=model["vocab"], merges=_merges(model))

    return build


def _mpnet(texts: list[str]) -> Any:
    import transformers

    # Real MPNet: a WordPiece vocabulary that starts <s> <pad> </s> <unk>, mask <mask>.
    specials = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]", "<mask>"]
    vocab = _wordpiece_vocab(texts, specials, "[UNK]")
    return transformers.MPNetTokenizer(vocab=vocab, do_lower_case=True)


def _modernbert(texts: list[str]) -> Any:
    import transformers

    # Real ModernBERT: byte-level BPE (OLMo's), [CLS] A [SEP] (B [SEP]), a generic fast
    # tokenizer that returns no token type ids.
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    tok, _ = _bytelevel_bpe(texts, specials)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[(s, tok.token_to_id(s)) for s in ("[CLS]", "[SEP]")],
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
        pad_token="[PAD]", mask_token="[MASK]",
        model_input_names=["input_ids", "attention_mask"],
    )  # fmt: skip


def _deberta(texts: list[str]) -> Any:
    import transformers

    # DeBERTa-v3: SentencePiece Unigram, [PAD]=0 [CLS]=1 [SEP]=2 [UNK]=3, [MASK] last.
    vocab = _unigram_vocab(texts, ["[PAD]", "[CLS]", "[SEP]", "[UNK]"], "[UNK]")
    return transformers.DebertaV2TokenizerFast(vocab=[*vocab, ("[MASK]", 0.0)])


def _xlmr(texts: list[str]) -> Any:
    import transformers

    vocab = _unigram_vocab(texts, ["<s>", "<pad>", "</s>", "<unk>"], "<unk>")
    return transformers.XLMRobertaTokenizerFast(vocab=[*vocab, ("<mask>", 0.0)])


def _albert(texts: list[str]) -> Any:
    import transformers

    specials = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
    vocab = _unigram_vocab(texts, specials, "<unk>", lowercase=True)
    return transformers.AlbertTokenizerFast(vocab=vocab, do_lower_case=True)


def _t5(texts: list[str]) -> Any:
    import transformers

    vocab = _unigram_vocab(texts, ["<pad>", "</s>", "<unk>"], "<unk>")
    return transformers.T5TokenizerFast(vocab=vocab, extra_ids=8)


TOKENIZERS: dict[str, Callable[[list[str]], Any]] = {
    "bert": _bert_kind("BertTokenizerFast"),
    "electra": _bert_kind("ElectraTokenizerFast"),
    "distilbert": _bert_kind("DistilBertTokenizerFast"),
    "mpnet": _mpnet,
    "roberta": _roberta_kind("RobertaTokenizerFast"),
    "bart": _roberta_kind("BartTokenizerFast"),
    "modernbert": _modernbert,
    "deberta-v2": _deberta,
    "xlm-roberta": _xlmr,
    "albert": _albert,
    "t5": _t5,
}
# Relative or rotary positions: the real tokenizers state 512 (8192) without a position table.
LONG_READERS = {"deberta-v2": 512, "modernbert": 8192, "t5": 512}


# -- configs -------------------------------------------------------------------------------


def _ids(tok: Any) -> dict[str, Any]:
    return {"pad_token_id": tok.pad_token_id, "vocab_size": len(tok)}


def _bert_like(tok: Any, positions: int) -> dict[str, Any]:
    return _ids(tok) | {
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INTERMEDIATE, "max_position_embeddings": positions,
    }  # fmt: skip


def _config(arch: str, tok: Any, positions: int) -> Any:
    import transformers as t

    offset = positions + 2  # RoBERTa's 514-style table
    builders: dict[str, Callable[[], Any]] = {
        "bert": lambda: t.BertConfig(**_bert_like(tok, positions), type_vocab_size=2),
        "electra": lambda: t.ElectraConfig(**_bert_like(tok, positions), embedding_size=16),
        "roberta": lambda: t.RobertaConfig(**_bert_like(tok, offset), type_vocab_size=1),
        "xlm-roberta": lambda: t.XLMRobertaConfig(**_bert_like(tok, offset), type_vocab_size=1),
        "mpnet": lambda: t.MPNetConfig(**_bert_like(tok, offset)),
        "albert": lambda: t.AlbertConfig(
            **_bert_like(tok, positions), embedding_size=16, hidden_act="gelu_new"
        ),
        "distilbert": lambda: t.DistilBertConfig(
            **_ids(tok),
            dim=HIDDEN,
            n_layers=LAYERS,
            n_heads=HEADS,
            hidden_dim=INTERMEDIATE,
            max_position_embeddings=positions,
        ),  # fmt: skip
        # DeBERTa-v3-base's settings, shrunk: relative attention, no absolute positions.
        "deberta-v2": lambda: t.DebertaV2Config(
            **_bert_like(tok, 512),
            type_vocab_size=0,
            relative_attention=True,
            position_buckets=32,
            max_relative_positions=-1,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
            norm_rel_ebd="layer_norm",
            share_att_key=True,
        ),  # fmt: skip
        "modernbert": lambda: t.ModernBertConfig(
            **_bert_like(tok, 8192),
            local_attention=16,
            global_attn_every_n_layers=2,
            cls_token_id=tok.cls_token_id,
            sep_token_id=tok.sep_token_id,
            bos_token_id=tok.cls_token_id,
            eos_token_id=tok.sep_token_id,
        ),  # fmt: skip
        "bart": lambda: t.BartConfig(
            **_ids(tok),
            d_model=HIDDEN,
            encoder_layers=LAYERS,
            decoder_layers=LAYERS,
            encoder_attention_heads=HEADS,
            decoder_attention_heads=HEADS,
            encoder_ffn_dim=INTERMEDIATE,
            decoder_ffn_dim=INTERMEDIATE,
            max_position_embeddings=positions,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            decoder_start_token_id=tok.eos_token_id,
            forced_eos_token_id=tok.eos_token_id,
        ),  # fmt: skip
        "t5": lambda: t.T5Config(
            **_ids(tok),
            d_model=HIDDEN,
            d_kv=HIDDEN // HEADS,
            d_ff=INTERMEDIATE,
            num_layers=LAYERS,
            num_decoder_layers=LAYERS,
            num_heads=HEADS,
            relative_attention_num_buckets=8,
            eos_token_id=tok.eos_token_id,
            decoder_start_token_id=tok.pad_token_id,
        ),  # fmt: skip
    }
    return builders[arch]()


def make_model_folder(
    arch: str,
    folder: Path,
    texts: list[str],
    positions: int = TINY_POSITIONS,
    stated: int | None = None,
) -> str:
    """Build a tiny random `arch` model and its trained tokenizer in `folder`; its path.

    `positions`: the learned positions' count; `stated`: the tokenizer's model_max_length
    (by default the real tokenizer's kind of bound; 0 for a tokenizer that states none).
    """
    import torch
    import transformers

    if arch not in TOKENIZERS:
        raise ValueError(f"unknown architecture {arch!r}; have {ARCHITECTURES}")
    folder.mkdir(parents=True, exist_ok=True)
    tok = TOKENIZERS[arch](texts)
    bound = LONG_READERS.get(arch, positions) if stated is None else stated
    tok.model_max_length = bound or transformers.tokenization_utils_base.VERY_LARGE_INTEGER
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        cls = transformers.AutoModelForSeq2SeqLM if arch in SEQ2SEQ else transformers.AutoModel
        cls.from_config(_config(arch, tok, positions)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)
