"""The metric catalogue: one declaration per metric, and what the readers derive from it."""

from __future__ import annotations

from studio.core import metric_catalogue as mc
from studio.core.sink import WALL_CLOCK
from studio.ui.monitor import data as monitor_data


def test_wall_clock_metrics_are_those_that_time_the_machine() -> None:
    assert {"examples_per_s", "tokens_per_s", "eval_examples_per_s"} == WALL_CLOCK


def test_every_plot_a_metric_names_is_one_the_monitor_draws() -> None:
    plots = {m.plot for m in mc.METRICS.values() if m.plot}
    assert plots <= set(monitor_data.PLOTS)
    assert monitor_data.RUN_WIDE == {
        "total_loss": "total",
        "lr": "lr",
        "grad_norm": "grad",
        "examples_per_s": "throughput",
        "eval_mean": "validation",
    }
    assert monitor_data.PER_TASK == {"loss": "task_loss", "share": "shares"}


def test_validation_names_and_which_way_is_better() -> None:
    assert mc.eval_name("f1") == "eval_f1"
    assert mc.task_metric("eval_f1") == "f1"
    for name in ("eval_loss", "eval_mean", "eval_examples_per_s", "loss", "total_loss"):
        assert mc.task_metric(name) is None, name
    assert mc.is_eval_name("eval_loss") and not mc.is_eval_name("eval_examples_per_s")
    assert mc.higher_is_better("eval_accuracy") and mc.higher_is_better("eval_mean")
    assert not mc.higher_is_better("eval_loss") and not mc.higher_is_better("total_loss")
