"""Every implementation of studio.core.sink.Sink has the protocol's methods and keeps what it is
given: the same reports go to each, and what each recorded is read back where it keeps it."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest

from studio.cli.commands import TqdmSink
from studio.core.mixing.plan import RunPlan, TaskPlan
from studio.core.sink import MemorySink, MetricRow, NullSink, Sink, TeeSink
from studio.store import RunStore, StoreSink
from studio.train.trackers import TrackerSink

# What a sink keeps, in one shape for all of them; a sink leaves out what it does not keep.
Record = dict[str, Any]
ReadBack = Callable[[], Record]

ROWS = [
    MetricRow(1, "total_loss", 0.5),
    MetricRow(1, "loss", 0.25, "rte"),
    MetricRow(2, "total_loss", 0.4),
]
PLAN = RunPlan(
    (TaskPlan("rte", 2490, 0.75, 2, 1.4427), TaskPlan("squad", 830, 0.25, 384, 0.1681)),
    "cpu (no precision)",
)
EXPECTED: Record = {
    "metrics": [(r.step, r.name, r.value, r.task) for r in ROWS],
    "logs": [("INFO", "loading 2 tasks"), ("ERROR", "NaN loss <rte> skipped")],
    "progress": (2, 10),
    "stage": ("tokenizing rte: 50%", 0.5),
    "stage_text": "tokenizing rte: 50%",  # for a sink that shows the text, not the fraction
    "checkpoints": {2: ("/runs/x/step-2", {"eval_accuracy": 0.75})},
    "plan": PLAN,
}
PROTOCOL = [n for n, v in vars(Sink).items() if inspect.isfunction(v) and not n.startswith("_")]


def _report(sink: Sink) -> None:
    """A short run's reports, in the order the training loop makes them."""
    sink.stage("tokenizing rte: 50%", 0.5)
    sink.log("INFO", "loading 2 tasks")
    sink.plan(PLAN)
    sink.metrics(ROWS[:2])
    sink.progress(1, 10)
    sink.checkpoint(1, "/runs/x/step-1", {"eval_accuracy": 0.5})
    sink.log("ERROR", "NaN loss <rte> skipped")
    sink.metrics(ROWS[2:])
    sink.progress(2, 10)
    sink.checkpoint(2, "/runs/x/step-2", {"eval_accuracy": 0.75})
    sink.drop_checkpoint(1)  # retention deleted the older one
    sink.flush()


def _memory_record(sink: MemorySink) -> Record:
    return {
        "metrics": [(r.step, r.name, r.value, r.task) for r in sink.rows],
        "logs": sink.logs,
        "progress": (sink.steps[-1], 10),  # MemorySink keeps the steps, not the total
        "stage": sink.stages[-1],
        "checkpoints": {step: (path, metrics) for step, path, metrics in sink.checkpoints},
        "plan": sink.plans[-1],
    }


def _store_record(store: RunStore, run_id: str) -> Record:
    run = store.get_run(run_id)
    return {
        "metrics": [(r["step"], r["name"], r["value"], r["task"]) for r in store.metrics_after(0)],
        "logs": [(r["level"], r["message"]) for r in store.logs(run_id)],
        "progress": (run.step, run.max_steps),
        "stage": (run.stage, run.stage_progress),
        "checkpoints": {c["step"]: (c["path"], c["metrics"]) for c in store.checkpoints(run_id)},
        "plan": store.plan(run_id),
    }


def _null(request: pytest.FixtureRequest) -> tuple[Sink, ReadBack]:
    return NullSink(), dict  # keeps nothing


def _memory(request: pytest.FixtureRequest) -> tuple[Sink, ReadBack]:
    sink = MemorySink()
    return sink, lambda: _memory_record(sink)


def _tee(request: pytest.FixtureRequest) -> tuple[Sink, ReadBack]:
    first, second = MemorySink(), MemorySink()

    def read_back() -> Record:
        assert _memory_record(first) == _memory_record(second), "each sink gets every report"
        return _memory_record(first)

    return TeeSink(first, second), read_back


def _store(request: pytest.FixtureRequest) -> tuple[Sink, ReadBack]:
    store: RunStore = request.getfixturevalue("store")
    run_id = store.create_run("demo", "pretrain", {"tasks": ["rte"]}, "minilm")
    sink = StoreSink(store, run_id, flush_interval=3600.0)
    request.addfinalizer(sink.close)
    return sink, lambda: _store_record(store, run_id)


def _tqdm(request: pytest.FixtureRequest) -> tuple[Sink, ReadBack]:
    capsys: pytest.CaptureFixture[str] = request.getfixturevalue("capsys")
    sink = TqdmSink(total=10)
    request.addfinalizer(sink.bar.close)

    def read_back() -> Record:
        # Each log line is "[LEVEL] message", after whatever the bar drew on the same line.
        lines = capsys.readouterr().err.splitlines()
        said = [re.search(r"\[(\w+)\] (.*)$", line) for line in lines]
        return {
            "logs": [m.groups() for m in said if m and "checkpoint at update" not in m[2]],
            "progress": (sink.bar.n, sink.bar.total),
            "stage_text": sink.bar.desc,
        }

    return sink, read_back


SINKS = {
    "NullSink": _null,
    "MemorySink": _memory,
    "TeeSink": _tee,
    "StoreSink": _store,
    "TqdmSink": _tqdm,
}


@pytest.fixture(params=list(SINKS))
def sink_and_record(request: pytest.FixtureRequest) -> tuple[Sink, ReadBack]:
    return SINKS[request.param](request)


def test_the_protocol_is_what_the_loop_calls() -> None:
    expected = "metrics log progress stage checkpoint drop_checkpoint plan manifest flush"
    assert sorted(PROTOCOL) == sorted(expected.split())


@pytest.mark.parametrize("cls", [NullSink, MemorySink, TeeSink, StoreSink, TqdmSink, TrackerSink])
def test_every_sink_has_the_protocols_methods(cls: type) -> None:
    for name in PROTOCOL:
        method = getattr(cls, name, None)
        assert callable(method), f"{cls.__name__} has no {name}()"
        expected = list(inspect.signature(getattr(Sink, name)).parameters)
        assert list(inspect.signature(method).parameters) == expected, (cls.__name__, name)


def test_every_sink_keeps_what_it_is_given(sink_and_record: tuple[Sink, ReadBack]) -> None:
    sink, read_back = sink_and_record
    _report(sink)
    record = read_back()
    for key, value in record.items():
        assert value == EXPECTED[key], key
