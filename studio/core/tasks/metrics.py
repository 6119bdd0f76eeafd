"""Validation metrics, all on a 0..1 scale (scikit-learn, scipy and rouge-score, imported when
first used)."""

from __future__ import annotations

import collections
import math
import re
import string
from collections.abc import Sequence


def classification_metrics(preds: Sequence[int], labels: Sequence[int]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    # Matthews is undefined (and sklearn warns) when a single class is all there is.
    single = len(set(labels) | set(preds)) < 2
    return {
        "accuracy": float(accuracy_score(labels, preds)),
        "macro_f1": float(f1_score(labels, preds, average="macro", zero_division=0)),
        "matthews": 0.0 if single else float(matthews_corrcoef(labels, preds)),
    }


def regression_metrics(preds: Sequence[float], labels: Sequence[float]) -> dict[str, float]:
    from scipy.stats import pearsonr, spearmanr

    if len(set(preds)) < 2 or len(set(labels)) < 2:
        # Correlation is undefined for a constant series; report no correlation.
        return {"pearson": 0.0, "spearman": 0.0}
    pearson = float(pearsonr(preds, labels).statistic)
    spearman = float(spearmanr(preds, labels).statistic)
    return {
        "pearson": 0.0 if math.isnan(pearson) else pearson,
        "spearman": 0.0 if math.isnan(spearman) else spearman,
    }


def _normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _token_f1(prediction: str, reference: str) -> float:
    pred, ref = _normalize(prediction).split(), _normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = collections.Counter(pred) & collections.Counter(ref)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def squad_metrics(
    predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Exact match and token F1 of the official SQuAD script, best over the reference answers.

    An example with no reference answer (SQuAD v2 unanswerable) counts as right when the
    prediction is empty.
    """
    if not predictions:
        return {"exact_match": 0.0, "f1": 0.0}
    em = f1 = 0.0
    for pred, refs in zip(predictions, references, strict=True):
        refs = list(refs) or [""]
        em += max(float(_normalize(pred) == _normalize(r)) for r in refs)
        f1 += max(_token_f1(pred, r) for r in refs)
    return {"exact_match": em / len(predictions), "f1": f1 / len(predictions)}


def rouge_metrics(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 (Porter-stemmed, as in the summarization papers)."""
    if not predictions:
        return {"rouge_1": 0.0, "rouge_2": 0.0, "rouge_l": 0.0}
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for pred, ref in zip(predictions, references, strict=True):
        for key, score in scorer.score(ref, pred).items():
            totals[key] += score.fmeasure
    n = len(predictions)
    return {
        "rouge_1": totals["rouge1"] / n,
        "rouge_2": totals["rouge2"] / n,
        "rouge_l": totals["rougeL"] / n,
    }
