"""Fault injection: random `kill -9`s and concurrent resumes of one run, against a clean run.

    python -m bench.faults [--kills 12] [--steps 30] [--seed 0]

A tiny run (MiniLM on rte, sst2 and copa from ../shared/data, batch 4, a checkpoint every 3
updates, two kept) is trained once straight through, then again under faults: the training
process is killed with SIGKILL at random moments, during an update, while a checkpoint is
written (a `.tmp-step-*` folder exists) or while one is pruned (a `.pruning-*` folder exists),
and every resume after a kill is started twice at once. At the end it reports the kills
survived, duplicate and missing metric rows (both must be 0), whether the run ended
`finished` with the same losses as the straight run, refused second resumes, and temporary
folders left (must be 0).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import SHARED_DATA
from studio.core.config import RunConfig
from studio.core.paths import checkpoints_dir
from studio.core.sink import WALL_CLOCK
from studio.store import RunStore

TEMPORARY = (".tmp-step-", ".pruning-")
PHASES = ("update", "checkpoint write", "prune")


def _studio(home: Path, *argv: str) -> list[str]:
    return [sys.executable, "-m", "studio", *argv, "--store", str(home / "studio.db")]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "STUDIO_HOME": str(home), "STUDIO_DATA_DIR": str(SHARED_DATA),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip


def _rows(home: Path, run_id: str) -> list[dict]:
    with RunStore(home / "studio.db") as store:
        return store.metrics_after(0, run_id)


def _run_id(home: Path) -> str | None:
    if not (home / "studio.db").exists():
        return None
    with RunStore(home / "studio.db") as store:
        runs = store.list_runs()
    return runs[0]["id"] if runs else None


def _step(home: Path, run_id: str) -> int:
    with RunStore(home / "studio.db") as store:
        return int(store.get_run(run_id)["step"] or 0)


def _kill_during(proc: subprocess.Popen, home: Path, phase: str, rng: random.Random) -> str:
    """Kill `proc` during `phase`; returns the phase it really was killed in."""
    deadline = time.monotonic() + 60
    while _run_id(home) is None:  # before the run exists there is nothing to lose
        if proc.poll() is not None or time.monotonic() > deadline:
            return "ended"
        time.sleep(0.1)
    run_id = _run_id(home) or ""
    root = checkpoints_dir(home / "studio.db", run_id)
    if phase == "update":  # once this process trains: not while it starts up
        start = _step(home, run_id)
        while _step(home, run_id) <= start and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 2.0))
    else:
        prefix = TEMPORARY[0] if phase == "checkpoint write" else TEMPORARY[1]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            names = os.listdir(root) if root.is_dir() else []
            if any(n.startswith(prefix) for n in names):
                break
            time.sleep(0.002)
        else:
            phase = "update"  # the moment never came: it was an update after all
    if proc.poll() is not None:
        return "ended"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return phase


def straight(home: Path, config: Path) -> str:
    subprocess.run(_studio(home, "train", str(config)), env=_env(home), check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    run_id = _run_id(home)
    assert run_id is not None
    return run_id


def faulted(home: Path, config: Path, kills: int, rng: random.Random) -> dict[str, object]:
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "env": _env(home)}
    proc = subprocess.Popen(_studio(home, "train", str(config)), **quiet)  # type: ignore[call-overload]
    survived: Counter[str] = Counter()
    refused = doubled = 0
    while True:
        if survived.total() >= kills:
            proc.wait()
            break
        phase = _kill_during(proc, home, rng.choice(PHASES), rng)
        if phase == "ended":
            proc.wait()
            break
        survived[phase] += 1
        run_id = _run_id(home)
        assert run_id is not None
        # The same resume, twice at once (a double click, two terminals): one may train.
        pair = [subprocess.Popen(_studio(home, "resume", run_id), **quiet) for _ in range(2)]  # type: ignore[call-overload]
        doubled += 1
        deadline = time.monotonic() + 60  # both claim within seconds; the loser exits at once
        while all(p.poll() is None for p in pair) and time.monotonic() < deadline:
            time.sleep(0.05)
        losers = [p for p in pair if p.poll() is not None and p.returncode == 2]
        for loser in losers:
            refused += b"already running" in loser.stderr.read()
            loser.stderr.close()
        proc = next((p for p in pair if p not in losers), pair[0])
    run_id = _run_id(home)
    assert run_id is not None
    with RunStore(home / "studio.db") as store:
        store.mark_interrupted()
        status = store.get_run(run_id)["status"]
    if status != "finished":  # the last kill came after the last resume finished
        subprocess.run(_studio(home, "resume", run_id), env=_env(home), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return {"run_id": run_id, "survived": survived, "doubled": doubled, "refused": refused}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="faults-"))
    config = scratch / "run.yaml"
    config.write_text(
        RunConfig(
            tasks=("rte", "sst2", "copa"), model="minilm", batch_size=4, max_length=64,
            max_steps=args.steps, checkpoint_every=3, keep_checkpoints=2,
            eval_every=3, log_every=1, eval_max_examples=16, device="cpu", num_threads=1,
            seed=args.seed,
        ).to_yaml()
    )  # fmt: skip
    clean, broken = scratch / "clean", scratch / "faulted"
    started = time.monotonic()
    reference = straight(clean, config)
    print(f"straight run: {time.monotonic() - started:.0f} s", flush=True)
    report = faulted(broken, config, args.kills, rng)
    run_id = str(report["run_id"])

    expected = {(r["step"], r["task"], r["name"]): r["value"] for r in _rows(clean, reference)}
    rows = _rows(broken, run_id)
    keys = Counter((r["step"], r["task"], r["name"]) for r in rows)
    got = {(r["step"], r["task"], r["name"]): r["value"] for r in rows}
    duplicates = sum(n - 1 for n in keys.values())
    missing = len(set(expected) - set(got))
    timing = WALL_CLOCK | {"padding_efficiency"}
    losses = [k for k in expected if k[2] not in timing and "time" not in k[2]]
    differ = [k for k in losses if k in got and abs((got[k] or 0) - (expected[k] or 0)) > 1e-5]
    with RunStore(broken / "studio.db") as store:
        status = store.get_run(run_id)["status"]
        integrity = store.integrity_check()
    root = checkpoints_dir(broken / "studio.db", run_id)
    stale = [p.name for p in root.iterdir() if p.name.startswith(TEMPORARY)]
    survived: Counter[str] = report["survived"]  # type: ignore[assignment]
    print(f"kills survived: {survived.total()} ("
          + ", ".join(f"{n} during {phase}" for phase, n in survived.items()) + ")")  # fmt: skip
    print(f"concurrent resumes: {report['doubled']} pairs, {report['refused']} second resumes "
          "refused with the owner named")  # fmt: skip
    print(f"duplicate rows: {duplicates}, missing rows: {missing} (of {len(expected)})")
    print(f"run ended {status}; losses and metrics equal to the straight run: "
          f"{not differ} ({len(losses) - len(differ)} of {len(losses)} values)")  # fmt: skip
    print(f"stale temporary folders: {len(stale)}; store integrity: {integrity}")
    print(f"wall time: {time.monotonic() - started:.0f} s; scratch: {scratch}")


if __name__ == "__main__":
    main()
