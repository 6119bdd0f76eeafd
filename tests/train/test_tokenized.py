"""The tokenized cache at scale: chunks, worker processes, progress, Stop, and what is reused."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from studio.core.errors import DataError
from studio.core.tasks import records
from studio.core.tasks.availability import resolve
from studio.core.tasks.spec import TaskSpec
from studio.train.data import loading as data_module
from studio.train.data import tokenized
from studio.train.data.loading import Tokenization, column, load_task, release_pages
from studio.train.setup import Workspace, load_tokenizer


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 150 examples, so the 800-example synthetic tasks are several chunks."""
    monkeypatch.setattr(tokenized, "MIN_CHUNK", 150)


def _load(
    name: str, ws: Workspace, model: str, cache: Path, **kwargs: object
) -> data_module.TaskData:
    spec = ws.catalog[name]
    where = resolve(spec, ws.data_dir, ws.synthetic_root)
    how = Tokenization(load_tokenizer(model), 64, 16, workers=kwargs.pop("workers", 1))  # type: ignore[arg-type]
    return load_task(spec, where, how, cache, ws.synthetic_root, **kwargs)  # type: ignore[arg-type]


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("name", ["synth_span", "synth_choice"])
@pytest.mark.process
def test_two_processes_make_the_same_features_as_one(
    name: str, workspace: Workspace, tiny_model: str, tmp_path: Path
) -> None:
    one = _load(name, workspace, tiny_model, tmp_path / "one", workers=1)
    two = _load(name, workspace, tiny_model, tmp_path / "two", workers=2)
    assert len(list((tmp_path / "two" / "tokenized").glob(f"{name}-train-*.arrow"))) > 2
    assert one.train[:] == two.train[:] and one.validation[:] == two.validation[:]
    assert np.array_equal(one.train_lengths, two.train_lengths)
    if name == "synth_span":  # windows point at their example across chunk borders
        index = column(two.train, "example_index")
        assert index[0] == 0 and index[-1] == two.train_examples - 1
        assert np.all(np.diff(index) >= 0)


@pytest.mark.usefixtures("small_chunks")
def test_progress_stop_and_the_chunks_kept(
    workspace: Workspace, tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = threading.Event()
    reports: list[tuple[int, int]] = []

    def report(done: int, total: int) -> None:
        reports.append((done, total))
        if done >= 300:
            stop.set()

    with pytest.raises(tokenized.PreparationStopped):
        _load("synth_pair", workspace, tiny_model, tmp_path, report=report, stop=stop)
    assert reports[0] == (0, 1000) and reports[-1][0] >= 300
    kept = sorted((tmp_path / "tokenized").glob("synth_pair-train-*.arrow"))
    assert kept and not list((tmp_path / "tokenized").glob("*.tmp"))
    chunks: list[tuple[int, int, str]] = []
    original = tokenized._tokenize_chunk
    monkeypatch.setattr(
        tokenized, "_tokenize_chunk", lambda job: chunks.append(job) or original(job)
    )
    reports.clear()
    data = _load("synth_pair", workspace, tiny_model, tmp_path, report=report)
    assert data.train_examples == 800 and reports[-1] == (1000, 1000)
    assert not {path for *_, path in chunks} & {str(p) for p in kept}  # done chunks reused


def test_validation_is_remembered_until_the_file_changes(
    catalog: dict[str, TaskSpec], tmp_path: Path, studio_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "rte"
    folder.mkdir()
    good = '{"text": "a", "text_pair": "b", "label": 0}\n'
    (folder / "train.jsonl").write_text(good * 3)
    (folder / "validation.jsonl").write_text(good)
    spec = catalog["rte"]
    where = resolve(spec, tmp_path, studio_home)
    progress: list[tuple[int, int]] = []
    data_module.validate_task(spec, where, studio_home, lambda d, t: progress.append((d, t)))
    assert progress[-1][0] == progress[-1][1] > 0
    reads: list[Path] = []
    real = records.validate_file

    def counting(path: Path, *args: object) -> int:
        reads.append(path)
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(records, "validate_file", counting)
    data_module.validate_task(spec, where, studio_home)
    assert reads == []  # the files as they were: not read again
    (folder / "train.jsonl").write_text(good * 2 + '{"text": "a", "text_pair": "b", "label": 9}\n')
    with pytest.raises(DataError, match=r"train\.jsonl, line 3: .*label 9 is out of range"):
        data_module.validate_task(spec, where, studio_home)
    assert reads == [folder / "train.jsonl"]


def test_releasing_mapped_pages_keeps_the_rows(workspace: Workspace, tiny_model: str) -> None:
    import datasets

    data = _load("synth_choice", workspace, tiny_model, workspace.cache)
    picked = np.array([5, 700, 42])
    before = data.train[picked.tolist()]
    assert data.train.cache_files  # memory-mapped from the tokenized cache
    release_pages(data.train, data.validation)
    assert data.train[picked.tolist()] == before
    in_memory = datasets.Dataset.from_dict({"input_ids": [[1, 2], [3]]})
    release_pages(in_memory)  # no file of its own: left alone
    assert in_memory["input_ids"][:] == [[1, 2], [3]]
