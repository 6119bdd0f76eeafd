"""Fault injection: random `kill -9`s and concurrent resumes of one run, against a clean run;
full disks during a checkpoint, an export and the store's spill; kills during an export and
during `task add --replace`.

    python -m bench.faults [--kills 12] [--steps 30] [--seed 0] [--cases kills,disk-...]

A tiny run (MiniLM on rte, sst2 and copa from ../shared/data, batch 4, a checkpoint every 3
updates, two kept) is trained once straight through, then again under faults: the training
process is killed with SIGKILL at random moments, during an update, while a checkpoint is
written (a `.tmp-step-*` folder exists) or while one is pruned (a `.pruning-*` folder exists),
and every resume after a kill is started twice at once. At the end it reports the kills
survived, duplicate and missing metric rows (both must be 0), whether the run ended
`finished` with the same losses as the straight run, refused second resumes, and temporary
folders left (must be 0).

The full-disk cases mount a small tmpfs (root only; skipped where mounting fails) where the
studio writes, fill it from outside while the run writes (as another program would), and
count: metric rows lost or duplicated against the straight run (after the disk is given room
and the run resumed), partial folders left (`.tmp-step-*`, `.<name>.export-*`), and whether
the message names the cause (the disk, what is free). The spill case counts what a run whose
disk stays full to its end kept in its spill file and what it lost, against what it said.
The kill cases kill an export (partial folders left after the next export) and a
`task add --replace` at several points (spec and records still of one version, right after
the kill and after the next start). The table at the end has one row per case.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from bench.common import SHARED_DATA
from studio.core.config.run import RunConfig
from studio.core.paths import checkpoints_dir
from studio.core.sink import WALL_CLOCK
from studio.store import RunStore

TEMPORARY = (".tmp-step-", ".pruning-")
PHASES = ("update", "checkpoint write", "prune")
CASES = ("kills", "disk-checkpoint", "disk-checkpoint-write", "disk-spill", "disk-export",
         "kill-export", "kill-replace")  # fmt: skip
DATA = Path(os.environ.get("STUDIO_DATA_DIR", SHARED_DATA))
MB = 1 << 20


def _studio(home: Path, *argv: str) -> list[str]:
    home.mkdir(parents=True, exist_ok=True)  # --store must name an existing folder
    return [sys.executable, "-m", "studio", *argv, "--store", str(home / "studio.db")]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "STUDIO_HOME": str(home), "STUDIO_DATA_DIR": str(DATA),
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


def _compare(clean: Path, reference: str, home: Path, run_id: str) -> dict[str, int]:
    """Metric rows of the faulted run against the straight run's: missing, duplicated, and how
    many loss and metric values differ."""
    expected = {(r["step"], r["task"], r["name"]): r["value"] for r in _rows(clean, reference)}
    rows = _rows(home, run_id)
    keys = Counter((r["step"], r["task"], r["name"]) for r in rows)
    got = {(r["step"], r["task"], r["name"]): r["value"] for r in rows}
    timing = WALL_CLOCK | {"padding_efficiency"}
    losses = [k for k in expected if k[2] not in timing and "time" not in k[2]]
    differ = [k for k in losses if k in got and abs((got[k] or 0) - (expected[k] or 0)) > 1e-5]
    return {"expected": len(expected), "missing": len(set(expected) - set(got)),
            "duplicates": sum(n - 1 for n in keys.values()), "losses": len(losses),
            "differ": len(differ)}  # fmt: skip


def _row(case: str, trials: object, lost: object, doubled: object, partial: object,
         cause: object, note: str = "", said: str = "") -> dict[str, str]:  # fmt: skip
    """One line of the table; `said` (what the user was told) is printed below it."""
    named = {True: "yes", False: "no"}.get(cause, str(cause))  # type: ignore[call-overload]
    return {"case": case, "trials": str(trials), "rows lost": str(lost),
            "rows duplicated": str(doubled), "partial folders left": str(partial),
            "message names the cause": named, "notes": note, "said": said}  # fmt: skip


# -- a small disk: a tmpfs where the studio writes, filled from outside ------------------------


@contextlib.contextmanager
def _small_disk(folder: Path, size: int) -> Iterator[bool]:
    """`folder` on a tmpfs of `size` bytes while in the block; False where mounting fails."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0  # fmt: skip
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _resize(folder: Path, size: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


def _fill(folder: Path, leave: int = 0) -> Path:
    """Write a filler file into `folder` until at most `leave` bytes are free; return it."""
    filler = folder / f"filler-{time.monotonic_ns()}"
    chunk = 64 * MB
    with filler.open("ab", buffering=0) as out:
        while chunk >= 4096:
            if shutil.disk_usage(folder).free - chunk < leave:
                chunk //= 2
                continue
            try:
                out.write(b"\0" * chunk)
            except OSError:
                chunk //= 2
    return filler


def _appears(folder: Path, prefix: str, proc: subprocess.Popen, seconds: float = 120) -> bool:
    """Wait until a name starting with `prefix` is in `folder` (False: the process ended)."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if any(n.startswith(prefix) for n in os.listdir(folder)):
                return True
        time.sleep(0.002)
    return False


def _partial(root: Path, prefixes: tuple[str, ...] = TEMPORARY) -> int:
    return sum(n.startswith(prefixes) for n in os.listdir(root)) if root.is_dir() else 0


def _error(home: Path, run_id: str) -> str:
    with RunStore(home / "studio.db") as store:
        store.mark_interrupted()
        return str(store.get_run(run_id)["error"] or "")


def _names_full_disk(text: str) -> bool:
    return "is full (" in text and " free" in text


def _finish(home: Path, run_id: str) -> None:
    subprocess.run(_studio(home, "resume", run_id), env=_env(home), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def disk_checkpoint(scratch: Path, config: Path, clean: Path, reference: str,
                    size: int, while_writing: bool) -> dict[str, str]:  # fmt: skip
    """The runs folder on a disk with room for 1.5 checkpoints (the save is refused up front),
    or for 4, filled by another program as a checkpoint is written."""
    case = "full disk: checkpoint write" if while_writing else "full disk: checkpoint"
    home = scratch / "".join(c if c.isalnum() else "-" for c in case)
    runs = home / "runs"
    with _small_disk(runs, int(size * (4 if while_writing else 1.5))) as mounted:
        if not mounted:
            return _row(case, 0, "-", "-", "-", "-", "cannot mount a tmpfs here")
        proc = subprocess.Popen(_studio(home, "train", str(config)), env=_env(home),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        fillers, midway = [], False
        if while_writing:  # room for the check before the 2nd save, then none during it
            while _run_id(home) is None and proc.poll() is None:
                time.sleep(0.05)
            root = checkpoints_dir(home / "studio.db", _run_id(home) or "")
            if _appears(root, "step-", proc):
                fillers.append(_fill(runs, leave=int(size * 1.05) + 3 * MB))
                midway = _appears(root, TEMPORARY[0], proc)
                fillers.append(_fill(runs))
        err = proc.communicate()[1].decode(errors="replace")
        run_id = _run_id(home) or ""
        error = _error(home, run_id)
        partial = _partial(checkpoints_dir(home / "studio.db", run_id))
        cause = _names_full_disk(error) and "needs about" in error and "enforce" not in error
        for filler in fillers:
            filler.unlink()
        _resize(runs, int(size * 4))
        _finish(home, run_id)
        result = _compare(clean, reference, home, run_id)
    said = error.splitlines()[0] if error else err.strip()[-300:]
    note = "filled while the save wrote; " if midway else ""
    return _row(case, 1, result["missing"], result["duplicates"], partial, cause,
                f"{note}run failed, then resumed with room", said)  # fmt: skip


def disk_spill(scratch: Path, config: Path, clean: Path, reference: str,
               size: int) -> dict[str, str]:  # fmt: skip
    """Store and runs folder on one disk that another program fills after update 5, leaving
    64 KB, until after the run ends; its one checkpoint, at the end, fails. The store refuses
    rows once its files must grow, the sink spills what fits. Lost: rows up to the update the
    run reached that are in neither the store nor the spill file."""
    case = "full disk to the end: spill"
    home = scratch / "disk-spill"
    text = config.read_text()
    steps = int(re.search(r"max_steps: (\d+)", text).group(1))  # type: ignore[union-attr]
    once = scratch / "spill.yaml"  # a checkpoint only at the end: the run goes on meanwhile
    once.write_text(re.sub(r"checkpoint_every: \d+", f"checkpoint_every: {steps}", text))
    with _small_disk(home, int(size * 4)) as mounted:
        if not mounted:
            return _row(case, 0, "-", "-", "-", "-", "cannot mount a tmpfs here")
        proc = subprocess.Popen(_studio(home, "train", str(once)), env=_env(home),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        while (_run_id(home) is None or _step(home, _run_id(home) or "") < 5) and \
                proc.poll() is None:  # fmt: skip
            time.sleep(0.05)
        filler = _fill(home, leave=64 * 1024)
        err = proc.communicate()[1].decode(errors="replace")
        filler.unlink()
        (scratch / "disk-spill.stderr").write_text(err)  # what the run said, for a look
        run_id = _run_id(home) or ""
        stored = {(r["step"], r["task"], r["name"]) for r in _rows(home, run_id)}
        spilled = _spilled(home / "runs" / run_id / "unsaved-rows.jsonl")
        reached = re.search(r"checkpoint of update (\d+)", err)
        last = int(reached.group(1)) if reached else max(k[0] for k in stored | spilled)
        expected = {(r["step"], r["task"], r["name"]) for r in _rows(clean, reference)
                    if r["step"] <= last}  # fmt: skip
        lost = len(expected - stored - spilled)
        said = [line for line in err.splitlines() if "rows could not be written" in line]
        failed = [line for line in err.splitlines() if "cannot save the checkpoint" in line]
        cause = bool(failed) and all("is full" in line for line in failed + said[-1:])
        _finish(home, run_id)
        result = _compare(clean, reference, home, run_id)
    told = "; ".join(line.split(": ", 1)[-1] for line in said[-1:] + failed[-1:])
    return _row(case, 1, f"{lost} at the end, {result['missing']} after resume",
                result["duplicates"], _partial(checkpoints_dir(home / "studio.db", run_id)),
                cause, f"of {len(expected)} rows to update {last}: {len(stored & expected)} in "
                f"the store, {len(spilled & expected)} in the spill file", told)  # fmt: skip


def _spilled(spill: Path) -> set[tuple[int, str | None, str]]:
    """The metric rows a spill file holds (whole lines only)."""
    found = set()
    if spill.is_file():
        for line in spill.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError):
                step, name, _, task, _ = json.loads(line)["metric"]
                found.add((step, task, name))
    return found


def disk_export(scratch: Path, clean: Path, reference: str, size: int) -> list[dict[str, str]]:
    """An export onto a disk too small for it (refused up front), and onto one another
    program fills while the export is written."""
    rows = []
    for case, disk, fill in (("full disk: export (too small)", 40 * MB, False),
                             ("full disk: export write", int(size * 1.5), True)):  # fmt: skip
        exports = scratch / "".join(c if c.isalnum() else "-" for c in case)
        with _small_disk(exports, disk) as mounted:
            if not mounted:
                rows.append(_row(case, 0, "-", "-", "-", "-", "cannot mount a tmpfs here"))
                continue
            argv = _studio(clean, "export", reference, str(exports / "mine"), "--checkpoint",
                           "latest")  # fmt: skip
            proc = subprocess.Popen(argv, env=_env(clean), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)  # fmt: skip
            if fill and _appears(exports, ".mine.export-", proc):
                _fill(exports)
            err = proc.communicate()[1].decode(errors="replace").strip()
            partial = _partial(exports, (".mine.export-",))
            done = (exports / "mine").exists()
            named = "is full (" in err or "not enough disk space" in err
            cause = named and "Traceback" not in err
        last = err.splitlines()[-1] if err else ""
        rows.append(_row(case, 1, "-", "-", partial, cause,
                         f"exit {proc.returncode}, export {'written' if done else 'absent'}",
                         last))  # fmt: skip
    return rows


# -- kills during an export and during `task add --replace` ------------------------------------


def kill_export(scratch: Path, clean: Path, reference: str, rng: random.Random,
                kills: int = 3) -> dict[str, str]:  # fmt: skip
    """Kill exports as they write; then one more export into the same folder."""
    exports = scratch / "kill-export"
    exports.mkdir()
    after_kills = held = alive = 0
    for i in range(kills):
        argv = _studio(clean, "export", reference, str(exports / f"e{i}"), "--checkpoint", "latest")
        proc = subprocess.Popen(argv, env=_env(clean), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        if _appears(exports, f".e{i}.export-", proc):  # then kill it as it writes
            while proc.poll() is None and _hidden_bytes(exports) < MB:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is None:
            alive += 1
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        after_kills, held = _partial(exports, (".",)), _hidden_bytes(exports)
    subprocess.run(_studio(clean, "export", reference, str(exports / "next"), "--checkpoint",
                           "latest"), env=_env(clean), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return _row("kill -9 during export", kills, "-", "-", _partial(exports, (".",)), "-",
                f"{alive} killed as they wrote; after the last kill {after_kills} partial "
                f"({held / MB:.0f} MB), after the next export "
                f"{_hidden_bytes(exports) / MB:.0f} MB")  # fmt: skip


def _hidden_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*")
               if f.is_file() and f.relative_to(folder).parts[0].startswith("."))  # fmt: skip


def _task_files(home: Path) -> tuple[str | None, int, int]:
    """The spec's title and the train and validation record counts of task `mine`."""
    spec = home / "tasks" / "mine.yaml"
    title = None
    if spec.is_file():
        for line in spec.read_text().splitlines():
            if line.startswith("title:"):
                title = line.split(":", 1)[1].strip()
    data = home / "data" / "mine"
    counts = [len((data / f"{s}.jsonl").read_text().splitlines()) if (data / f"{s}.jsonl")
              .is_file() else 0 for s in ("train", "validation")]  # fmt: skip
    return title, counts[0], counts[1]


def kill_replace(scratch: Path, rng: random.Random, kills: int = 8) -> dict[str, str]:
    """Replace task `mine` (version A: 60 rows, 2 labels) by version B (90 rows, 3 labels) and
    kill the process at several points: while it stages, while it saves, at random moments."""
    base = scratch / "replace"
    base.mkdir()
    for version, n, labels in (("A", 60, ("neg", "pos")), ("B", 90, ("neg", "pos", "neu"))):
        rows = [{"text": f"row {i} of {version}", "label": labels[i % len(labels)]}
                for i in range(n)]  # fmt: skip
        (base / f"{version}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    versions = {}
    for version in ("A", "B"):
        home = base / f"home-{version}"
        argv = [sys.executable, "-m", "studio", "task", "add", "mine", "--file",
                str(base / f"{version}.jsonl"), "--title", version]  # fmt: skip
        subprocess.run(argv, env=_env(home), check=True, capture_output=True)
        versions[version] = _task_files(home)
    points = ["staging", "journal"] + ["moment"] * (kills - 2)
    right_after = after_start = left = alive = 0
    for i, point in enumerate(points):
        home = base / f"kill-{i}"
        shutil.copytree(base / "home-A", home)
        argv = [sys.executable, "-m", "studio", "task", "add", "mine", "--file",
                str(base / "B.jsonl"), "--title", "B", "--replace"]  # fmt: skip
        proc = subprocess.Popen(argv, env=_env(home), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        if point == "moment":
            time.sleep(rng.uniform(0.8, 2.2))
        else:
            _appears(home / "data", ".staging-" if point == "staging" else ".saving-", proc, 10)
        if proc.poll() is None:
            alive += 1
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        right_after += _task_files(home) in versions.values()
        subprocess.run([sys.executable, "-m", "studio", "task", "show", "mine"], env=_env(home),
                       capture_output=True)  # fmt: skip  # the next start
        after_start += _task_files(home) in versions.values()
        left += sum(p.name.startswith(".") for d in ("data", "tasks") if (home / d).is_dir()
                    for p in (home / d).iterdir())  # fmt: skip
    return _row("kill -9 during task add --replace", kills, "-", "-", left, "-",
                f"{alive} killed mid-way; spec and records of one version: {right_after}/{kills} "
                f"right after the kill, {after_start}/{kills} after the next start")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", default=",".join(CASES), help="of " + ", ".join(CASES))
    args = parser.parse_args()
    cases = args.cases.split(",")
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
    clean = scratch / "clean"
    started = time.monotonic()
    reference = straight(clean, config)
    print(f"straight run: {time.monotonic() - started:.0f} s", flush=True)
    root = checkpoints_dir(clean / "studio.db", reference)
    size = max(sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) for p in root.iterdir())
    table = []
    if "kills" in cases:
        table.append(kills(scratch, config, clean, reference, args.kills, rng))
    if "disk-checkpoint" in cases:
        table.append(disk_checkpoint(scratch, config, clean, reference, size, False))
    if "disk-checkpoint-write" in cases:
        table.append(disk_checkpoint(scratch, config, clean, reference, size, True))
    if "disk-spill" in cases:
        table.append(disk_spill(scratch, config, clean, reference, size))
    if "disk-export" in cases:
        table += disk_export(scratch, clean, reference, size)
    if "kill-export" in cases:
        table.append(kill_export(scratch, clean, reference, rng))
    if "kill-replace" in cases:
        table.append(kill_replace(scratch, rng))
    print()
    columns = [c for c in table[0] if c != "said"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in table:
        print("| " + " | ".join(row[c] for c in columns) + " |")
    print("\nwhat each was told:")
    for row in table:
        if row["said"]:
            print(f"- {row['case']}: {row['said']}")
    print(f"\ncheckpoint size: {size / MB:.0f} MB; wall time: {time.monotonic() - started:.0f} s; "
          f"scratch: {scratch}")  # fmt: skip


def kills(scratch: Path, config: Path, clean: Path, reference: str, count: int,
          rng: random.Random) -> dict[str, str]:  # fmt: skip
    """Today's case: random kills during updates, checkpoint writes and prunes, each resume
    started twice at once."""
    broken = scratch / "faulted"
    report = faulted(broken, config, count, rng)
    run_id = str(report["run_id"])
    result = _compare(clean, reference, broken, run_id)
    with RunStore(broken / "studio.db") as store:
        status = store.get_run(run_id)["status"]
        integrity = store.integrity_check()
    stale = _partial(checkpoints_dir(broken / "studio.db", run_id))
    survived: Counter[str] = report["survived"]  # type: ignore[assignment]
    phases = ", ".join(f"{n} during {phase}" for phase, n in survived.items())
    return _row("kill -9 during training (+ double resumes)", survived.total(), result["missing"],
                result["duplicates"], stale, "-",
                f"{phases}; {report['refused']} of {report['doubled']} second resumes refused; "
                f"ended {status}, {result['losses'] - result['differ']} of {result['losses']} "
                f"values equal to the straight run; store {integrity}")  # fmt: skip


if __name__ == "__main__":
    main()
