"""Every session of a run records its manifest: the start and each resume, shown by `runs show`
and written into an export's model card."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import threading
from pathlib import Path

import pytest

from studio.cli.commands import main
from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.session import execute, export_run, resume
from studio.store import RunStore
from tests.support import StopAt, tiny_config

pytestmark = [pytest.mark.train]

TASKS = ("synth_sentiment", "synth_span")


def test_a_run_and_its_resume_each_record_a_manifest(
    tiny_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = load_catalog(default_tasks_dir())
    db = tmp_path / "studio.db"
    config = tiny_config(tiny_model, TASKS, max_steps=6, eval_every=3, checkpoint_every=3)
    stop = threading.Event()
    first = execute(config.replace(seed=11), catalog, None, db, stop, StopAt(stop, 3))
    assert first.status == "stopped"
    with RunStore(db) as store:
        (started,) = store.manifests(first.run_id)
    assert started.seed == 11 and started.config["tasks"] == list(TASKS)
    assert started.python == platform.python_version()
    assert started.libraries["torch"] == importlib.metadata.version("torch")
    assert set(started.libraries) == {"torch", "transformers", "datasets", "accelerate"}
    assert started.device.startswith("cpu") and started.precision
    assert set(started.data) == set(TASKS)
    assert all(
        d.source == "synthetic" and d.fingerprint.startswith("sha1:") for d in started.data.values()
    )
    assert started.git_commit is None or len(started.git_commit) == 40

    second = resume(first.run_id, catalog, None, db, threading.Event())
    assert second.status == "finished"
    with RunStore(db) as store:
        manifests = store.manifests(first.run_id)
    assert len(manifests) == 2 and manifests[1].created > manifests[0].created
    assert manifests[1].data == started.data  # the same data, the same fingerprints

    assert main(["runs", "show", first.run_id, "--store", str(db)]) == 0
    text = capsys.readouterr().out
    assert "manifest, start" in text and "manifest, resume 1" in text
    assert main(["runs", "show", first.run_id, "--json", "--store", str(db)]) == 0
    assert len(json.loads(capsys.readouterr().out)["manifests"]) == 2

    card = (export_run(db, first.run_id, "latest", tmp_path / "export") / "README.md").read_text()
    assert "## Environment" in card and f"| torch | {started.libraries['torch']} |" in card
    assert "| seed | 11 |" in card and "| data: synth_span | synthetic sha1:" in card
