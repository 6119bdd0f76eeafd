"""The fused update under 2 CPU processes: each process fuses its own shard of every
sub-batch, and the run trains like one process on the per-sub-batch path (to float tolerance)
on a mix of classification, pair, multiple choice and span tasks. (R3F's noise is drawn per
process, so it cannot match one process; tests/train/test_fused.py checks it fused.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import save_tiny_bert, tiny_config
from tests.test_multiprocess import STEPS, _assert_same_training, _finish, _launch, _one_process

pytestmark = [pytest.mark.train, pytest.mark.process]

MIX = ("synth_sentiment", "synth_pair", "synth_choice", "synth_span")


def test_two_fused_processes_train_like_one_unfused(tmp_path: Path) -> None:
    model = save_tiny_bert(
        tmp_path / "model", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    config = tiny_config(
        model, MIX, max_steps=STEPS, batch_size=7, tasks_per_update=4, eval_every=15,
        checkpoint_every=15, eval_max_examples=8,
    )  # fmt: skip
    unfused, fused = tmp_path / "unfused.yaml", tmp_path / "fused.yaml"
    unfused.write_text(config.replace(fuse_update="off").to_yaml())
    fused.write_text(config.replace(fuse_update="on").to_yaml())
    one = _one_process(unfused, tmp_path)
    two = tmp_path / "two.db"
    _finish(_launch("train", str(fused), "--store", str(two)))
    _assert_same_training(one, two)
