"""Stop, Ctrl-C and the window's Stop end a preparation that tokenizes with worker processes
within seconds, leave no worker behind and no half-written chunk in the tokenized cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import datasets
import pytest
import yaml
from transformers import AutoTokenizer

from studio.core.config.models import minilm_folder
from studio.core.processes import pid_alive
from studio.store import RunStore
from studio.train.data import tokenized
from studio.train.data.tokenize import tokenize_function

pytestmark = pytest.mark.process

WORDS = " ".join(f"w{i % 89}ord lorem{i % 13} ipsum" for i in range(120))


def _split(folder: Path, count: int) -> datasets.Dataset:
    """A memory-mapped split of `count` long sentences (workers read it from its file)."""
    path = folder / "train.jsonl"
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write(json.dumps({"text": f"{i} {WORDS}", "label": i % 2}) + "\n")
    return datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(folder / "hf")
    )


def _left_behind(cache: Path, chunk_rows: int) -> list[str]:
    """Anything in the tokenized folder but whole chunks."""
    found = []
    for entry in sorted(cache.iterdir()):
        if entry.suffix != ".arrow" or entry.name.startswith("."):
            found.append(entry.name)
        elif len(datasets.Dataset.from_file(str(entry))) != chunk_rows:
            found.append(f"{entry.name} (not whole)")
    return found


class Recorded:
    """The worker pids of the tokenize calls, as Workers.end finds them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pids: list[int] = []
        end = tokenized.Workers.end

        def recording(workers: tokenized.Workers) -> None:
            self.pids += [p.pid for p in workers.processes if p.pid is not None]
            end(workers)

        monkeypatch.setattr(tokenized.Workers, "end", recording)


def test_stop_ends_workers_mid_chunk_within_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokenized, "MIN_CHUNK", 1500)
    raw = _split(tmp_path / "data", 12_000)
    tok = AutoTokenizer.from_pretrained(minilm_folder())
    function = tokenize_function("classification", tok, 64, 16, "train")
    cache = tmp_path / "tokenized"
    recorded = Recorded(monkeypatch)
    stop, stopped_at = threading.Event(), []
    reports: list[int] = []

    def report(done: int, total: int) -> None:
        reports.append(done)
        if done and not stop.is_set():  # the workers are inside their next chunks by now
            threading.Timer(0.3, lambda: (stopped_at.append(time.monotonic()), stop.set())).start()

    with pytest.raises(tokenized.PreparationStopped):
        tokenized.tokenize(raw, function, False, cache / "big", 2, report, stop)
    took = time.monotonic() - stopped_at[0]
    assert took < 5.0, f"the workers took {took:.1f} s to end"
    assert reports[-1] < len(raw)  # stopped mid-way
    assert recorded.pids and not [pid for pid in recorded.pids if pid_alive(pid)]
    assert _left_behind(cache, 1500) == []


def _stuck(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A worker that waits for ever and does not end on SIGTERM (as one stuck on a lock
    inherited through fork did); it leaves a file in STUCK_IN to say it is there."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    (Path(os.environ["STUCK_IN"]) / str(os.getpid())).touch()
    time.sleep(600)
    return batch


def test_a_worker_that_ignores_sigterm_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokenized, "MIN_CHUNK", 10)
    raw = datasets.Dataset.from_dict({"text": [str(i) for i in range(40)]})
    there = tmp_path / "stuck"
    there.mkdir()
    monkeypatch.setenv("STUCK_IN", str(there))
    recorded = Recorded(monkeypatch)
    stop, stopped_at = threading.Event(), []

    def stop_once_stuck() -> None:
        _wait_for(lambda: len(list(there.iterdir())) == 2, 60)
        stopped_at.append(time.monotonic())
        stop.set()

    threading.Thread(target=stop_once_stuck, daemon=True).start()
    with pytest.raises(tokenized.PreparationStopped):
        tokenized.tokenize(raw, _stuck, False, tmp_path / "cache" / "x", 2, None, stop)
    took = time.monotonic() - stopped_at[0]
    assert tokenized.END_GRACE_S <= took < tokenized.END_GRACE_S + 3.0
    assert len(recorded.pids) == 2 and not [pid for pid in recorded.pids if pid_alive(pid)]
    assert list((tmp_path / "cache").iterdir()) == []


def _config(folder: Path, model: str) -> Path:
    config = {
        "tasks": ["sst2"],
        "model": model,
        "max_steps": 2,
        "batch_size": 4,
        "device": "cpu",
        "max_length": 32,
        "num_proc": 2,
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _stage(store: Path) -> str:
    if not store.exists():
        return ""
    with RunStore(store, create=False) as db:
        runs = db.list_runs()
    return str(runs[0].stage or "") if runs else ""


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_studio_train_while_two_processes_tokenize(
    tmp_path: Path, tiny_model: str, studio_home: Path
) -> None:
    """The reported hang: SIGINT to the terminal's group at 20 % of tokenizing with
    num_proc: 2 printed 'stopping after the current update' once per process and waited
    for ever on a worker stuck in a lock inherited through fork."""
    data = tmp_path / "data"
    (data / "sst2").mkdir(parents=True)
    text = WORDS[:200]
    # 9 chunks of 10,000: tokenizing lasts well past the stop on a fast CPU too (30,000 were
    # done in 6 s on CI's, before the Ctrl-C came).
    lines = [json.dumps({"text": f"{i} {text}", "label": i % 2}) + "\n" for i in range(90_000)]
    (data / "sst2" / "train.jsonl").write_text("".join(lines))
    (data / "sst2" / "validation.jsonl").write_text("".join(lines[:300]))
    store = tmp_path / "studio.db"
    command = [sys.executable, "-m", "studio", "train", str(_config(tmp_path, tiny_model))]
    command += ["--store", str(store), "--data-dir", str(data)]
    child = subprocess.Popen(
        command, start_new_session=True, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert _wait_for(lambda: "tokenizing" in _stage(store), 60), "never got to tokenize"
        time.sleep(3.0)  # the workers are up and inside their chunks
        os.killpg(child.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        began = time.monotonic()
        _, err = child.communicate(timeout=30)
        took = time.monotonic() - began
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
    assert took < 10.0, f"studio train took {took:.1f} s to stop"
    assert err.count("stopping after the current update") == 1, err
    assert _wait_for(lambda: not _group_alive(child.pid), 5), "a worker was left behind"
    with RunStore(store, create=False) as db:
        run = db.list_runs()[0]
    assert run.status == "stopped"
    cache = studio_home / "cache" / "tokenized"
    assert not [p.name for p in cache.iterdir() if not p.name.endswith(".arrow")]
