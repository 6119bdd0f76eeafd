"""Length-aware, endless, restartable batches per task, and dynamic padding."""

from __future__ import annotations

from typing import Any

import datasets
import numpy as np
import torch


class TaskStream:
    """Endless batches of feature indices for one task; never runs dry mid-run.

    Each epoch shuffles the examples, sorts pools of `pool` batches by length so a batch holds
    examples of similar length (little padding), and shuffles the batch order. The stream is
    a pure function of (seed, epoch, position), so its state is two integers.
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, pool: int = 50) -> None:
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.pool = pool
        self.epoch = 0
        self.position = 0
        self.batches = self._epoch_batches(0)

    def _epoch_batches(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        chunk = self.batch_size * self.pool
        batches: list[np.ndarray] = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            part = part[np.argsort(self.lengths[part], kind="stable")]
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def next(self) -> np.ndarray:
        if self.position >= len(self.batches):
            self.epoch += 1
            self.position = 0
            self.batches = self._epoch_batches(self.epoch)
        batch = self.batches[self.position]
        self.position += 1
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.position = int(state["position"])
        self.batches = self._epoch_batches(self.epoch)


def eval_batches(lengths: np.ndarray, batch_size: int, limit: int | None) -> list[np.ndarray]:
    """Validation batches over the first `limit` features, sorted by length."""
    count = len(lengths) if limit is None else min(limit, len(lengths))
    order = np.argsort(lengths[:count], kind="stable")
    return [order[i : i + batch_size] for i in range(0, count, batch_size)]


def _pad(rows: list[list[int]], width: int, value: int) -> np.ndarray:
    out = np.full((len(rows), width), value, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def collate(
    features: datasets.Dataset | dict[str, list[Any]],
    indices: np.ndarray,
    pad_id: int,
    multiple: int = 1,
) -> tuple[dict[str, torch.Tensor], int, int]:
    """Pad the features at `indices` to their own longest row (rounded up to `multiple`).

    `features` is a split (a memory-mapped `datasets.Dataset`, of which only these rows are
    read) or the same as a dict of lists. Returns the tensors, the real token count and the
    computed (padded) token count; a summary's target tokens (labels, padded with -100) count
    as well.
    """
    if isinstance(features, datasets.Dataset):
        features, indices = features[indices.tolist()], np.arange(len(indices))
    ids = [features["input_ids"][i] for i in indices]
    nested = isinstance(ids[0][0], list)
    rows = [r for ex in ids for r in ex] if nested else ids
    width = max(len(r) for r in rows)
    width = -(-width // multiple) * multiple
    real = sum(len(r) for r in rows)
    batch: dict[str, torch.Tensor] = {}
    input_ids = _pad(rows, width, pad_id)
    mask = np.zeros_like(input_ids)
    for i, r in enumerate(rows):
        mask[i, : len(r)] = 1
    batch["input_ids"], batch["attention_mask"] = (
        torch.from_numpy(input_ids),
        torch.from_numpy(mask),
    )
    if "token_type_ids" in features:
        types = [features["token_type_ids"][i] for i in indices]
        type_rows = [r for ex in types for r in ex] if nested else types
        batch["token_type_ids"] = torch.from_numpy(_pad(type_rows, width, 0))
    if nested:
        choices = len(ids[0])
        for key in list(batch):
            batch[key] = batch[key].view(len(ids), choices, width)
    computed = input_ids.size
    for key in ("labels", "start_positions", "end_positions"):
        if key in features:
            values = [features[key][i] for i in indices]
            if isinstance(values[0], list):  # summary token ids: -100 is ignored by the loss
                target_width = -(-max(len(v) for v in values) // multiple) * multiple
                labels = _pad(values, target_width, -100)
                batch[key] = torch.from_numpy(labels)
                real += sum(len(v) for v in values)
                computed += labels.size
                continue
            dtype = torch.float32 if isinstance(values[0], float) else torch.long
            batch[key] = torch.tensor(values, dtype=dtype)
    return batch, real, computed
