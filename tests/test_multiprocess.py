"""Scale-out: the same config on 2 CPU processes (gloo) under `accelerate launch`.

Two processes on the same global batch must train like one process (to float tolerance), only
the main process writes the store and the checkpoints, and a stopped run resumes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from studio.core.paths import run_dir
from studio.core.sink import WALL_CLOCK
from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.session import execute
from studio.store import RunStore
from tests.support import save_tiny_bart, save_tiny_bert, tiny_config

pytestmark = [pytest.mark.train, pytest.mark.process]

STEPS = 30


@pytest.fixture(scope="module")
def model_without_dropout(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Dropout would draw different masks in one and in two processes."""
    folder = tmp_path_factory.mktemp("tiny-bert-no-dropout")
    return save_tiny_bert(folder, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


@pytest.fixture(scope="module")
def config_file(model_without_dropout: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = tiny_config(
        model_without_dropout,
        ("synth_sentiment", "synth_choice", "synth_span"),
        max_steps=STEPS,
        batch_size=7,  # odd: the two processes get 4 and 3 examples
        eval_every=10,
        checkpoint_every=10,
        eval_max_examples=16,
    )
    path = tmp_path_factory.mktemp("config") / "run.yaml"
    path.write_text(config.to_yaml())
    return path


@pytest.fixture(scope="module")
def seq2seq_config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Summarization through BART's decoder, mixed with two encoder families."""
    folder = tmp_path_factory.mktemp("tiny-bart-no-dropout")
    model = save_tiny_bart(folder, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    config = tiny_config(
        model,
        ("synth_summary", "synth_sentiment", "synth_choice"),
        max_steps=STEPS,
        batch_size=7,
        tasks_per_update=3,
        eval_every=15,
        checkpoint_every=15,
        eval_max_examples=8,
        max_target_length=16,
    )
    path = tmp_path_factory.mktemp("seq2seq-config") / "run.yaml"
    path.write_text(config.to_yaml())
    return path


def _one_process(config_file: Path, folder: Path) -> Path:
    from studio.core.config.run import load_config

    store = folder / "studio.db"
    catalog = load_catalog(default_tasks_dir())
    outcome = execute(load_config(config_file), catalog, None, store, threading.Event())
    assert outcome.status == "finished"
    return store


@pytest.fixture(scope="module")
def one_process(config_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _one_process(config_file, tmp_path_factory.mktemp("one"))


def _launch(*args: str) -> subprocess.Popen[str]:
    with socket.socket() as sock:  # a free port, so parallel runs cannot collide
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    command += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    command += ["--dynamo_backend", "no", "--main_process_port", str(port)]
    return subprocess.Popen(
        [*command, "-m", "studio", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        start_new_session=True,  # a group of its own: Ctrl-C and clean-up reach every process
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:  # timed out: take the launcher's whole group down
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    return out


def _metrics(store: Path) -> tuple[str, dict[tuple[int, str | None, str], float]]:
    with RunStore(store) as db:
        (run,) = db.list_runs()
        rows = db.metrics_after(0, run.id)
    # Wall-clock rates, and padding: each process pads only its own part of a batch.
    skip = WALL_CLOCK | {"padding_efficiency"}
    return run.id, {
        (r["step"], r["task"], r["name"]): r["value"] for r in rows if r["name"] not in skip
    }


def _has_metrics(store: Path) -> bool:
    """Whether the run exists and has logged; the store file appears before the run's row."""
    if not store.exists():
        return False
    with RunStore(store) as db:
        runs = db.list_runs()
        return bool(runs) and bool(db.metrics_after(0, runs[0].id))


def _assert_same_training(one: Path, two: Path) -> None:
    one_id, a = _metrics(one)
    two_id, b = _metrics(two)
    assert a.keys() == b.keys()
    assert sorted(s for s, t, n in b if n == "total_loss") == list(range(1, STEPS + 1))
    for key, value in a.items():
        assert b[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    final = f"checkpoints/step-{STEPS}/model.safetensors"
    wa = load_file(run_dir(one, one_id) / final)
    wb = load_file(run_dir(two, two_id) / final)
    assert wa.keys() == wb.keys()
    for name, tensor in wa.items():
        assert (tensor - wb[name]).abs().max().item() < 1e-4, name


def test_two_processes_train_like_one_on_the_same_global_batch(
    config_file: Path, one_process: Path, tmp_path: Path
) -> None:
    store = tmp_path / "studio.db"
    out = _finish(_launch("train", str(config_file), "--store", str(store)))
    run_id, _ = _metrics(store)
    assert out.split() == [run_id]  # only the main process reports
    with RunStore(store) as db:
        assert db.get_run(run_id).status == "finished"
        assert any("in 2 processes" in row["message"] for row in db.logs(run_id))
    _assert_same_training(one_process, store)


def test_a_stopped_two_process_run_resumes(
    config_file: Path, one_process: Path, tmp_path: Path
) -> None:
    store = tmp_path / "studio.db"
    proc = _launch("train", str(config_file), "--store", str(store))
    try:
        deadline = time.monotonic() + 120
        while not _has_metrics(store):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches every process
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # a failed wait must not leave the launcher running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    run_id, _ = _metrics(store)
    with RunStore(store) as db:
        run = db.get_run(run_id)
        assert run.status == "stopped" and 0 < run.step < STEPS
        assert db.checkpoints(run_id)[-1]["step"] == run.step
    _finish(_launch("resume", run_id, "--store", str(store)))
    with RunStore(store) as db:
        assert db.get_run(run_id).status == "finished"
    _assert_same_training(one_process, store)


def test_a_seq2seq_mix_trains_in_two_processes_like_in_one(
    seq2seq_config_file: Path, tmp_path: Path
) -> None:
    one = _one_process(seq2seq_config_file, tmp_path)
    two = tmp_path / "two.db"
    _finish(_launch("train", str(seq2seq_config_file), "--store", str(two)))
    _, metrics = _metrics(two)
    assert {n for _, t, n in metrics if t == "synth_summary"} >= {"loss", "eval_rouge_l"}
    _assert_same_training(one, two)
