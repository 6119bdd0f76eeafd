"""Loading through `datasets`, the tokenized cache, batching and padding efficiency."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.errors import DataError, StudioError
from studio.core.tasks.availability import resolve
from studio.core.tasks.spec import TaskSpec
from studio.train.batching import TaskStream, collate
from studio.train.data import loading as data_module
from studio.train.setup import Workspace, load_tokenizer


def _load(name: str, ws: Workspace, model: str) -> data_module.TaskData:
    spec = ws.catalog[name]
    where = resolve(spec, ws.data_dir, ws.synthetic_root)
    how = data_module.Tokenization(load_tokenizer(model), 64, 16)
    return data_module.load_task(spec, where, how, ws.cache, ws.synthetic_root)


def test_second_load_reuses_the_tokenized_cache(
    workspace: Workspace, tiny_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _load("synth_choice", workspace, tiny_model)
    assert first.train_examples == 800
    assert np.array(first.train[0]["input_ids"], dtype=object).shape[0] == 4  # choices

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("re-tokenized although the cache was there")

    monkeypatch.setattr(data_module, "tokenize_function", lambda *a, **k: must_not_run)
    second = _load("synth_choice", workspace, tiny_model)
    assert second.train[:]["input_ids"] == first.train[:]["input_ids"]


def test_task_stream_is_endless_and_restartable() -> None:
    lengths = np.random.default_rng(0).integers(5, 100, size=103)
    stream = TaskStream(lengths, batch_size=10, seed=3)
    drawn = [stream.next() for _ in range(25)]  # more than two epochs
    assert all(len(b) > 0 for b in drawn)
    assert stream.epoch == 2
    state = stream.state_dict()
    after = [stream.next().tolist() for _ in range(7)]
    clone = TaskStream(lengths, batch_size=10, seed=3)
    clone.load_state_dict(state)
    assert [clone.next().tolist() for _ in range(7)] == after
    epoch0 = np.concatenate(drawn[:11])
    assert sorted(epoch0.tolist()) == list(range(103))  # every example once per epoch


def test_length_aware_batches_pad_less_than_random_ones() -> None:
    rng = np.random.default_rng(1)
    lengths = rng.integers(8, 200, size=2000)
    features = {"input_ids": [[1] * int(n) for n in lengths], "labels": [0] * 2000}

    def efficiency(batches: list[np.ndarray]) -> float:
        real = computed = 0
        for b in batches:
            _, r, c = collate(features, b, pad_id=0)
            real, computed = real + r, computed + c
        return real / computed

    stream = TaskStream(lengths, batch_size=16, seed=0)
    aware = efficiency([stream.next() for _ in range(100)])
    shuffled = rng.permutation(2000)
    naive = efficiency([shuffled[i : i + 16] for i in range(0, 1600, 16)])
    assert aware > 0.95 > naive


def test_collate_pads_multiple_choice_to_one_width() -> None:
    features = {
        "input_ids": [[[1, 2], [1, 2, 3]], [[1], [1, 2, 3, 4]]],
        "token_type_ids": [[[0, 0], [0, 0, 1]], [[0], [0, 0, 1, 1]]],
        "labels": [1, 0],
    }
    batch, real, computed = collate(features, np.array([0, 1]), pad_id=0)
    assert batch["input_ids"].shape == (2, 2, 4)
    assert batch["attention_mask"].sum().item() == real == 10
    assert computed == 16


def test_bad_record_is_reported_with_file_and_line(
    tmp_path, catalog: dict[str, TaskSpec], studio_home
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "rte"
    folder.mkdir()
    good = '{"text": "a", "text_pair": "b", "label": 0}\n'
    (folder / "train.jsonl").write_text(
        good + good + '{"text": "a", "text_pair": "b", "label": 7}\n'
    )
    (folder / "validation.jsonl").write_text(good)
    spec = catalog["rte"]
    where = resolve(spec, tmp_path, studio_home)
    with pytest.raises(DataError, match=r"train\.jsonl, line 3: .*label 7 is out of range"):
        data_module.validate_task(spec, where, studio_home)


def test_unavailable_task_is_refused_with_its_reason(
    catalog: dict[str, TaskSpec], studio_home
) -> None:  # type: ignore[no-untyped-def]
    spec = catalog["qqp"]
    where = resolve(spec, None, studio_home, online=False)
    with pytest.raises(StudioError, match="qqp.*unavailable.*hub"):
        data_module.validate_task(spec, where, studio_home)


def test_span_features_point_at_their_dataset_row_past_one_map_batch(
    catalog: dict[str, TaskSpec],
    shared_data,
    studio_home,
    tiny_model: str,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """datasets.map works in batches of 1,000 rows; example indices must not restart."""
    spec = catalog["squad_v1"]
    ws = Workspace(catalog, shared_data, tmp_path / "cache", studio_home)
    where = resolve(spec, ws.data_dir, ws.synthetic_root)
    how = data_module.Tokenization(load_tokenizer(tiny_model), 384, 128)
    data = data_module.load_task(spec, where, how, ws.cache, ws.synthetic_root)
    index = data_module.column(data.train, "example_index").tolist()
    assert max(index) == data.train_examples - 1 and index == sorted(index)
    validation = data_module.column(data.validation, "example_index")
    assert validation.max() == len(data.validation_records) - 1
