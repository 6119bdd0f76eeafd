"""The synthetic demo suite: deterministic, valid for its catalog spec, written once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.paths import synthetic_dir
from studio.core.tasks import synthetic
from studio.core.tasks.records import record_problem, validate_file
from studio.core.tasks.spec import TaskSpec, default_tasks_dir, load_catalog

NAMES = sorted(synthetic.GENERATORS)


@pytest.fixture(scope="module")
def specs() -> dict[str, TaskSpec]:
    catalog = load_catalog(default_tasks_dir())
    return {s.synthetic: s for s in catalog.values() if s.synthetic is not None}


def test_every_generator_has_a_spec_and_a_size(specs: dict[str, TaskSpec]) -> None:
    assert sorted(specs) == NAMES
    assert sorted(synthetic.SIZES) == NAMES
    for name, spec in specs.items():
        assert spec.name == name
        assert (default_tasks_dir() / f"{name}.yaml").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_records_are_valid_and_sized(name: str, specs: dict[str, TaskSpec], tmp_path: Path) -> None:
    folder = synthetic.ensure(name, tmp_path)
    assert folder == tmp_path / name
    spec = specs[name]
    for split, size in zip(("train", "validation"), synthetic.SIZES[name], strict=True):
        path = folder / f"{split}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()
        assert len(lines) == size
        for number, line in enumerate(lines, start=1):
            problem = record_problem(json.loads(line), spec)
            assert problem is None, f"{path}:{number}: {problem}"
        assert validate_file(path, spec) == size


@pytest.mark.parametrize("name", NAMES)
def test_labels_are_not_constant(name: str, specs: dict[str, TaskSpec], tmp_path: Path) -> None:
    # A learnable toy task uses more than one label / choice position.
    spec = specs[name]
    folder = synthetic.ensure(name, tmp_path)
    records = [json.loads(x) for x in (folder / "train.jsonl").read_text("utf-8").splitlines()]
    if "label" in records[0]:
        assert len({r["label"] for r in records}) >= 2
    if spec.num_outcomes:
        assert {r["label"] for r in records} == set(range(spec.num_outcomes))


def test_ensure_is_deterministic_across_homes(tmp_path: Path) -> None:
    first, second = tmp_path / "home1", tmp_path / "home2"
    for name in NAMES:
        a, b = synthetic.ensure(name, first), synthetic.ensure(name, second)
        for split in ("train", "validation"):
            assert (a / f"{split}.jsonl").read_bytes() == (b / f"{split}.jsonl").read_bytes()
    # Only the task folders are left behind: no temporary folders.
    assert sorted(p.name for p in first.iterdir()) == NAMES


def test_ensure_writes_under_studio_home(studio_home: Path) -> None:
    folder = synthetic.ensure("synth_sentiment", synthetic_dir())
    assert folder.is_relative_to(studio_home)
    assert (folder / "train.jsonl").is_file()


def test_second_ensure_does_not_rewrite(tmp_path: Path) -> None:
    folder = synthetic.ensure("synth_span", tmp_path)
    files = [folder / "train.jsonl", folder / "validation.jsonl"]
    before = [(f.stat().st_mtime_ns, f.stat().st_ino) for f in files]
    assert synthetic.ensure("synth_span", tmp_path) == folder
    assert [(f.stat().st_mtime_ns, f.stat().st_ino) for f in files] == before


def test_incomplete_folder_is_regenerated(tmp_path: Path) -> None:
    reference = synthetic.ensure("synth_topic", tmp_path / "ref")
    folder = tmp_path / "home" / "synth_topic"
    folder.mkdir(parents=True)
    (folder / "train.jsonl").write_text("partial\n", encoding="utf-8")
    synthetic.ensure("synth_topic", tmp_path / "home")
    for split in ("train", "validation"):
        expected = (reference / f"{split}.jsonl").read_bytes()
        assert (folder / f"{split}.jsonl").read_bytes() == expected
