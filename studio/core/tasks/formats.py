"""Task families, formats and the record format each one reads (docs/DESIGN.md §3)."""

from __future__ import annotations

from typing import Final

FAMILIES: Final = ("classification", "commonsense", "mrc", "summarization")

FORMATS: Final = (
    "classification",
    "pair_classification",
    "regression",
    "multiple_choice",
    "extractive_qa",
    "summarization",
)

# Fields every record of a format must carry (regression may add `text_pair`).
REQUIRED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "classification": ("text", "label"),
    "pair_classification": ("text", "text_pair", "label"),
    "regression": ("text", "label"),
    "multiple_choice": ("context", "question", "choices", "label"),
    "extractive_qa": ("context", "question", "answers"),
    "summarization": ("document", "summary"),
}

OPTIONAL_FIELDS: Final[dict[str, tuple[str, ...]]] = {"regression": ("text_pair",)}

# Fields that may legitimately be the empty string (see the data README).
MAY_BE_EMPTY: Final[dict[str, tuple[str, ...]]] = {"multiple_choice": ("context", "question")}

# Metrics each format can be scored with; the first is the default.
METRICS: Final[dict[str, tuple[str, ...]]] = {
    "classification": ("accuracy", "macro_f1", "matthews"),
    "pair_classification": ("accuracy", "macro_f1", "matthews"),
    "regression": ("pearson", "spearman"),
    "multiple_choice": ("accuracy",),
    "extractive_qa": ("f1", "exact_match"),
    "summarization": ("rouge_l", "rouge_1", "rouge_2"),
}

LABELLED_FORMATS: Final = ("classification", "pair_classification")
