"""The report's pure parts: SVG line charts, the task mix from what a run recorded, escaping."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from studio.core.config.run import RunConfig
from studio.core.mixing.plan import RunPlan, TaskPlan, plan_tasks, task_mix
from studio.core.report.page import Report, Table, render
from studio.core.report.svg_chart import MAX_POINTS, Chart, Line, nice_ticks, render_chart
from studio.core.tasks.spec import TaskSpec

SVG = "{http://www.w3.org/2000/svg}"


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    assert nice_ticks(3, 97) == [20, 40, 60, 80]
    assert nice_ticks(5, 5) == [5]


def test_a_missing_value_breaks_the_line_and_log_axes_skip_non_positive() -> None:
    line = Line("a", (1, 2, 3, 4, 5), (1.0, None, 2.0, math.nan, 0.0))
    root = ET.fromstring(render_chart(Chart("t", (line,))))
    polylines = root.findall(f"{SVG}polyline")
    assert [len(p.get("points", "").split()) for p in polylines] == [1, 1, 1]
    log = ET.fromstring(render_chart(Chart("t", (line,), log_y=True)))
    assert len(log.findall(f"{SVG}polyline")) == 2  # 0 has no logarithm


def test_long_lines_are_thinned_and_empty_charts_say_so() -> None:
    n = 10 * MAX_POINTS
    line = Line("long", tuple(range(n)), tuple(float(i) for i in range(n)))
    root = ET.fromstring(render_chart(Chart("t", (line,))))
    assert len(root.find(f"{SVG}polyline").get("points", "").split()) == MAX_POINTS
    empty = ET.fromstring(render_chart(Chart("nothing <b>", (Line("a", (), ()),))))
    assert "no values recorded" in "".join(empty.itertext())
    assert empty.find(f"{SVG}title").text == "nothing <b>"


def test_mix_reads_the_recorded_plan_and_falls_back_to_the_rows() -> None:
    config = {"tasks": ["a", "b"], "loss_scaling": "log_n"}
    plan = [TaskPlan("a", 10, 0.1, 3, 0.9102)]
    rows = task_mix(config, plan, {("b", "share"): 0.3, ("b", "loss_scale"): 0.5})
    assert [(r.task, r.examples, r.share, r.observed, r.size, r.scale) for r in rows] == [
        ("a", 10, 0.1, None, 3, 0.9102),
        ("b", None, None, 0.3, None, 0.5),  # no plan recorded: the metric rows only
    ]


def test_the_plan_applies_the_sampling_and_scaling_rules_once() -> None:
    config = RunConfig(tasks=("a", "b"), sampling="proportional", loss_scaling="log_n")
    a = TaskSpec("a", "A", "x", "classification", "accuracy", labels=("n", "y"))
    b = TaskSpec("b", "B", "x", "extractive_qa", "f1")
    plan = plan_tasks(config, [a, b], {"a": 300, "b": 100}, 1000)
    assert [(p.task, p.examples, p.share, p.size) for p in plan] == [
        ("a", 300, 0.75, 2),
        ("b", 100, 0.25, config.max_length),
    ]
    assert plan[0].scale == pytest.approx(1 / math.log(2))
    manual = config.replace(loss_scaling="manual", manual_weights={"a": 2.0, "b": 0.5})
    assert [(p.size, p.scale) for p in plan_tasks(manual, [a, b], {"a": 1, "b": 1}, 9)] == [
        (None, 2.0),
        (None, 0.5),
    ]
    assert RunPlan.from_dict(RunPlan(plan, "cpu").to_dict()) == RunPlan(plan, "cpu")


def test_render_escapes_every_text() -> None:
    evil = "<img src=x onerror=alert(1)>"
    report = Report(
        title=evil,
        kind="pretrain",
        facts=(("Name", evil),),
        config={"tasks": [evil]},
        tables=(Table(evil, (evil,), ((evil,),), note=evil),),
    )
    text = render(report)
    assert "<img" not in text and text.count("&lt;img") >= 6


@pytest.mark.parametrize("count", [1, 10, 11, 24])
def test_every_series_of_a_chart_has_a_colour_of_its_own(count: int) -> None:
    lines = [Line(f"task {i}", (0.0, 1.0), (float(i), float(i) + 1)) for i in range(count)]
    svg = render_chart(Chart("many", tuple(lines)))
    strokes = re.findall(r'<polyline [^>]*stroke="(#[0-9a-f]{6})"', svg)
    assert len(strokes) == count and len(set(strokes)) == count
