"""A run's preparation: what it reports while it validates, loads and tokenizes, and a Stop
during it, in the store as the window's Monitor reads it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from studio.core.sink import MemorySink
from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.session import execute, resume
from studio.store import RunStore
from tests.support import tiny_config

pytestmark = pytest.mark.train

CATALOG = load_catalog(default_tasks_dir())


class StopWhileTokenizing(MemorySink):
    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop = stop

    def stage(self, text: str, fraction: float | None) -> None:
        super().stage(text, fraction)
        if text.startswith("tokenizing synth_pair"):
            self.stop.set()


def test_stop_while_preparing_ends_the_run_and_resume_starts_it(
    tiny_model: str, tmp_path: Path
) -> None:
    store = tmp_path / "studio.db"
    config = tiny_config(tiny_model, ("synth_sentiment", "synth_pair"), max_steps=4)
    stop = threading.Event()
    sink = StopWhileTokenizing(stop)
    outcome = execute(config, CATALOG, None, store, stop, sink)
    assert (outcome.status, outcome.step) == ("stopped", 0)
    texts = [text for text, _ in sink.stages]
    assert texts[0].startswith("validating synth_sentiment (1 of 2)")
    assert "loading the model" in texts
    assert any(t.startswith("tokenizing synth_sentiment (1 of 2): 100%") for t in texts)
    assert texts[-1] == ""  # preparation is over, whatever ended it
    assert not sink.steps  # no update ran
    with RunStore(store) as db:
        run = db.get_run(outcome.run_id)
        assert (run.status, run.stage, run.step) == ("stopped", None, 0)
        assert any("stopped while tokenizing" in row["message"] for row in db.logs(outcome.run_id))
    again = resume(outcome.run_id, CATALOG, None, store, threading.Event())
    assert (again.status, again.step) == ("finished", 4)
