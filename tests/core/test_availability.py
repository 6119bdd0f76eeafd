"""Where each task's data comes from: synthetic suite, local folder, hub, or unavailable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from studio.core.tasks import synthetic
from studio.core.tasks.availability import hub_online, resolve
from studio.core.tasks.spec import TaskSpec, default_tasks_dir, load_catalog

SpecFactory = Callable[..., TaskSpec]
HUB = {"path": "nyu-mll/glue", "name": "rte", "columns": {"sentence1": "text", "label": "label"}}


@pytest.fixture
def fresh_hub_online() -> Iterator[None]:
    hub_online.cache_clear()
    yield
    hub_online.cache_clear()


def _folder(root: Path, name: str, train: int, validation: int) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    line = '{"text": "x", "label": 0}\n'
    (folder / "train.jsonl").write_text(line * train + "\n", encoding="utf-8")
    (folder / "validation.jsonl").write_text(line * validation, encoding="utf-8")
    return folder


def test_synthetic_spec_is_available_with_sizes(tmp_path: Path) -> None:
    spec = load_catalog(default_tasks_dir())["synth_pair"]
    avail = resolve(spec, None, tmp_path / "synthetic", online=False)
    assert avail.available and avail.source == "synthetic"
    assert avail.folder == tmp_path / "synthetic" / "synth_pair"
    assert (avail.train_size, avail.validation_size) == synthetic.SIZES["synth_pair"]


def test_unknown_generator_is_unavailable(make_spec: SpecFactory, tmp_path: Path) -> None:
    spec = make_spec("classification", source={"synthetic": "synth_nothing"})
    avail = resolve(spec, None, tmp_path, online=True)
    assert not avail.available
    assert "synth_nothing" in (avail.reason or "")


def test_local_folder_sizes_are_line_counts(make_spec: SpecFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = _folder(data, "demo", train=7, validation=3)
    spec = make_spec("classification", source={"local": "demo", "hub": HUB})
    avail = resolve(spec, data, tmp_path / "synthetic", online=True)
    assert avail.available and avail.source == "local"  # local wins over the hub
    assert avail.folder == folder
    assert (avail.train_size, avail.validation_size) == (7, 3)
    assert avail.reason is None


def test_real_local_folder(shared_data: Path) -> None:
    spec = load_catalog(default_tasks_dir())["rte"]
    avail = resolve(spec, shared_data, shared_data / "nowhere", online=False)
    assert avail.available and avail.source == "local"

    def lines(split: str) -> int:
        text = (shared_data / "rte" / f"{split}.jsonl").read_text(encoding="utf-8")
        return sum(1 for line in text.splitlines() if line.strip())

    assert (avail.train_size, avail.validation_size) == (lines("train"), lines("validation"))


def test_local_folder_missing_a_split(make_spec: SpecFactory, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "demo"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text('{"text": "x", "label": 0}\n', encoding="utf-8")
    avail = resolve(make_spec("classification"), tmp_path / "data", tmp_path, online=False)
    assert not avail.available
    assert "validation.jsonl" in (avail.reason or "")
    assert str(folder) in (avail.reason or "")


def test_missing_folder_and_offline_hub(make_spec: SpecFactory, tmp_path: Path) -> None:
    spec = make_spec("classification", source={"local": "demo", "hub": HUB})
    avail = resolve(spec, tmp_path / "data", tmp_path / "synthetic", online=False)
    assert not avail.available and avail.source == "hub"
    reason = avail.reason or ""
    assert "demo" in reason and str(tmp_path / "data") in reason
    assert "nyu-mll/glue" in reason


def test_no_data_dir_and_no_hub(make_spec: SpecFactory, tmp_path: Path) -> None:
    avail = resolve(make_spec("classification"), None, tmp_path, online=True)
    assert not avail.available
    reason = avail.reason or ""
    assert "STUDIO_DATA_DIR" in reason and "demo" in reason


def test_missing_folder_no_hub(make_spec: SpecFactory, tmp_path: Path) -> None:
    avail = resolve(make_spec("classification"), tmp_path, tmp_path, online=True)
    assert not avail.available
    assert "demo" in (avail.reason or "")


def test_hub_only_online(make_spec: SpecFactory, tmp_path: Path) -> None:
    spec = make_spec("classification", source={"hub": HUB})
    online = resolve(spec, tmp_path, tmp_path, online=True)
    assert online.available and online.source == "hub"
    offline = resolve(spec, tmp_path, tmp_path, online=False)
    assert not offline.available
    assert "nyu-mll/glue" in (offline.reason or "")


@pytest.mark.usefixtures("fresh_hub_online")
@pytest.mark.parametrize("var", ["HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "STUDIO_OFFLINE"])
def test_hub_online_honours_offline_variables(var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "STUDIO_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(var, "1")
    assert hub_online() is False


@pytest.mark.usefixtures("fresh_hub_online")
def test_resolve_uses_hub_online_when_not_told(
    make_spec: SpecFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = make_spec("classification", source={"hub": HUB})
    assert not resolve(spec, None, tmp_path).available
