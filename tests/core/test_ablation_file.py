"""Ablation files: the variants are exactly the product asked for, named by their differences
from the base, nothing else differs; bad keys and values name the file and key; the table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from studio.core.config.run import RunConfig
from studio.core.errors import ConfigError
from studio.core.experiments.ablation import (
    AblationConfig,
    ablation_config,
    format_value,
    load_ablation,
    variant_name,
)
from studio.core.experiments.ablation_results import (
    read_results,
    results_table,
    table_rows,
    transfer_gain,
)
from studio.core.run_record import Run, TransferResult

BASE = {"tasks": ["synth_sentiment", "synth_pair"], "max_steps": 3, "seed": 7}


def _config(vary: dict[str, Any], **more: Any) -> AblationConfig:
    return ablation_config({"base": BASE, "vary": vary, **more}, "abl.yaml")


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        ablation_config(data, "abl.yaml")
    return str(info.value)


def test_the_variants_are_the_product_and_nothing_else_differs() -> None:
    config = _config(
        {
            "mixing": ["heterogeneous", "homogeneous", "sequential"],
            "loss_scaling": ["log_n", "none"],
        }
    )
    variants = config.variants()
    assert [v.name for v in variants] == [
        "base",
        "loss_scaling=none",
        "mixing=homogeneous",
        "mixing=homogeneous,loss_scaling=none",
        "mixing=sequential",
        "mixing=sequential,loss_scaling=none",
    ]
    pairs = {(v.config.mixing, v.config.loss_scaling) for v in variants}
    assert pairs == {(m, s) for m in ("heterogeneous", "homogeneous", "sequential")
                     for s in ("log_n", "none")}  # fmt: skip
    base = config.base.to_dict()
    for variant in variants:
        settings = variant.config.to_dict()
        differing = {k for k in base if settings[k] != base[k]}
        assert differing == {k for k, _ in variant.changes}
        assert differing <= {"mixing", "loss_scaling"}
        assert (variant.config.seed, variant.config.max_steps) == (7, 3)


def test_the_base_is_a_variant_even_when_no_list_holds_its_value() -> None:
    variants = _config({"mixing": ["homogeneous", "sequential"]}).variants()
    assert [v.name for v in variants] == ["base", "mixing=homogeneous", "mixing=sequential"]
    assert variants[0].config == RunConfig(**{**BASE, "tasks": tuple(BASE["tasks"])})


def test_task_subsets_models_and_joint_keys() -> None:
    config = _config(
        {
            "tasks": [["synth_sentiment", "synth_pair"], ["synth_sentiment"]],
            "sampling+temperature": [["proportional", 2.0], ["temperature", 5]],
            "model": ["minilm", "/models/other"],
        }
    )
    names = [v.name for v in config.variants()]
    assert len(names) == 8 and len(set(names)) == 8
    assert "tasks=synth_sentiment,sampling=temperature,temperature=5,model=/models/other" in names
    subset = next(v for v in config.variants() if v.name == "tasks=synth_sentiment")
    assert subset.config.tasks == ("synth_sentiment",)
    assert subset.changes_dict() == {"tasks": ["synth_sentiment"]}
    # A joint value equal to the base in one key names only the other.
    joint = _config({"sampling+temperature": [["temperature", 2.0]]}).variants()
    assert [v.name for v in joint] == ["base", "sampling=temperature"]


def test_round_trip_through_the_stored_dict() -> None:
    config = _config(
        {"head_sharing": ["shared", "per_dataset"], "tasks": [["synth_pair"]]},
        name="heads",
        transfer={"targets": ["synth_choice"], "sizes": [8, "all"], "seeds": [0]},
    )
    again = ablation_config(config.to_dict(), "stored")
    assert again == config
    assert [v.config for v in again.variants()] == [v.config for v in config.variants()]
    assert again.title == "heads"


def test_names() -> None:
    assert variant_name([]) == "base"
    assert variant_name([("mixing", "homogeneous"), ("loss_scaling", "none")]) == (
        "mixing=homogeneous,loss_scaling=none"
    )
    assert format_value(2.0) == "2" and format_value(5e-5) == "5e-05"
    assert format_value(1.0000001) == "1.0000001"
    assert format_value(("a", "b")) == "a+b"
    assert format_value(None) == "null" and format_value(True) == "true"


def test_base_from_a_file_relative_to_the_ablation(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "run.yaml").write_text(yaml.safe_dump(BASE))
    path = tmp_path / "abl.yaml"
    path.write_text(yaml.safe_dump({"base": "configs/run.yaml", "vary": {"seed": [7, 8]}}))
    config = load_ablation(path)
    assert config.base.seed == 7
    assert [v.name for v in config.variants()] == ["base", "seed=8"]
    path.write_text(yaml.safe_dump({"base": "missing.yaml", "vary": {"seed": [1]}}))
    with pytest.raises(ConfigError, match=r"abl\.yaml: base: no run config file"):
        load_ablation(path)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"vary": {"mixing": ["homogeneous"]}}, "missing key 'base'"),
        ({"base": BASE}, "missing key 'vary'"),
        ({"base": BASE, "vary": {}, "extra": 1}, r"unknown key\(s\) \['extra'\]"),
        ({"base": BASE, "vary": {}}, "vary: must map config keys"),
        ({"base": BASE, "vary": {"mixng": ["homogeneous"]}}, "vary: mixng: unknown config key"),
        (
            {"base": BASE, "vary": {"mixing": ["homogenous"]}},
            r"abl\.yaml: vary: mixing: 'homogenous' is not allowed",
        ),
        ({"base": BASE, "vary": {"mixing": "homogeneous"}}, "mixing: give a list of values"),
        ({"base": BASE, "vary": {"max_steps": [0]}}, r"vary: max_steps: must be in \[1"),
        ({"base": BASE, "vary": {"temperature": ["hot"]}}, "temperature: must be a number"),
        ({"base": BASE, "vary": {"tasks": ["synth_pair"]}}, "tasks: each value is a list"),
        ({"base": BASE, "vary": {"loss_scaling": ["manual"]}}, "manual_weights"),
        ({"base": BASE, "vary": {"seed": [1, 1]}}, "listed more than once"),
        ({"base": BASE, "vary": {"name": ["a", "b"]}}, "cannot be varied"),
        ({"base": BASE, "vary": {"seed": [1], "seed+mixing": [[2, "homogeneous"]]}}, "more than"),
        ({"base": BASE, "vary": {"seed+mixing": [[2]]}}, "a list of 2 values"),
        ({"base": {"taks": ["a"]}, "vary": {"seed": [1]}}, r"abl\.yaml: base: unknown key"),
        ({"base": 3, "vary": {"seed": [1]}}, "base: give a run config"),
        ({"base": BASE, "vary": {"seed": [1]}, "transfer": True}, "transfer: give the transfer"),
        (
            {"base": BASE, "vary": {"seed": [1]}, "transfer": {"targets": ["x"], "sizes": [0]}},
            "transfer: sizes",
        ),
        (
            {"base": BASE, "vary": {"seed": [1]}, "transfer": {"targets": ["synth_pair"]}},
            "held out",
        ),
        (
            {"base": BASE, "vary": {"seed": [1]}, "transfer": {"enabled": "yes"}},
            "enabled: must be true or false",
        ),
        ({"base": BASE, "vary": {"seed": list(range(300))}}, "at most 256"),
    ],
)
def test_bad_files_name_the_file_and_key(data: dict[str, Any], expected: str) -> None:
    message = _error(data)
    assert message.startswith("abl.yaml: ")
    assert re.search(expected, message), message


def test_the_transfer_switch() -> None:
    on = {"targets": ["synth_choice"], "sizes": [8], "seeds": [0]}
    assert _config({"seed": [1]}, transfer=on).transfer == on
    assert _config({"seed": [1]}, transfer={**on, "enabled": False}).transfer is None
    assert _config({"seed": [1]}, transfer=False).transfer is None
    assert _config({"seed": [1]}).transfer is None


class FakeStore:
    """The three reads that results need, from runs and rows built by hand."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.series: dict[tuple[str, str, str | None], list[float]] = {}
        self.transfer_rows: dict[str, list[TransferResult]] = {}

    def get_run(self, run_id: str) -> Run:
        return self.runs[run_id]

    def metric_series(
        self, run_id: str, name: str, task: str | None = None
    ) -> list[tuple[int, float, float]]:
        return [(i, v, 0.0) for i, v in enumerate(self.series.get((run_id, name, task), []))]

    def results(self, transfer_id: str) -> list[TransferResult]:
        return self.transfer_rows.get(transfer_id, [])


def _result(target: str, size: str, model: str, value: float, seed: int = 0) -> TransferResult:
    return TransferResult(
        transfer_id="t", target=target, k=None, size=size, seed=seed, model=model,
        metric="accuracy", value=value, run_id=None, leaked=False, baseline=None,
    )  # fmt: skip


def test_results_per_variant_with_the_difference_from_the_base() -> None:
    store = FakeStore()
    variants = [
        {"name": "base", "run_id": "r1", "transfer_id": "t1"},
        {"name": "mixing=homogeneous", "run_id": "r2", "transfer_id": None},
        {"name": "gone", "run_id": "deleted", "transfer_id": None},
    ]
    store.runs["abl"] = Run("abl", "ablation", "ablation", "running", {"variants": variants})
    for run_id, start in (("r1", 100.0), ("r2", 200.0)):
        store.runs[run_id] = Run(
            id=run_id,
            name=run_id,
            kind="pretrain",
            status="finished",
            started=start,
            finished=start + 90,
            config={"tasks": ["a", "b"]},
        )
    store.series |= {
        ("r1", "eval_mean", None): [0.5, 0.7, 0.6],
        ("r2", "eval_mean", None): [0.4, 0.65],
        ("r1", "eval_accuracy", "a"): [0.2, 0.8],
        ("r1", "eval_f1", "b"): [0.3],
        ("r2", "eval_accuracy", "a"): [0.9],
        ("r1", "examples_per_s", None): [10.0, 30.0],
    }
    store.transfer_rows["t1"] = [
        _result("c", "8", "base", 0.5),
        _result("c", "8", "pretuned", 0.6),
        _result("c", "8", "pretuned", 0.8, seed=1),
    ]
    rows = read_results(store, "abl", {"a": "accuracy", "b": "f1"})
    assert [r.variant for r in rows] == ["base", "mixing=homogeneous"]
    base, homogeneous = rows
    assert (base.final_mean, base.best_mean, base.delta) == (0.6, 0.7, 0.0)
    assert homogeneous.final_mean == 0.65 and homogeneous.delta == pytest.approx(0.05)
    assert base.tasks == {"a": 0.8, "b": 0.3} and homogeneous.tasks == {"a": 0.9}
    assert (base.wall_s, base.throughput, homogeneous.throughput) == (90.0, 20.0, None)
    assert base.transfer_mean == pytest.approx(0.7) and base.transfer_gain == pytest.approx(0.2)
    header, body = table_rows(rows)
    assert header[:5] == ["variant", "status", "final mean", "best mean", "Δ vs base"]
    assert "a (accuracy)" in header and "transfer gain" in header
    assert body[1][header.index("b (f1)")] == "—"
    assert body[1][header.index("Δ vs base")] == "+0.0500"
    text = results_table(rows)
    assert text.splitlines()[2].startswith("mixing=homogeneous  finished")
    assert "+0.2000" in text.splitlines()[1]


def test_gain_needs_both_models() -> None:
    assert transfer_gain([]) == (None, None)
    assert transfer_gain([_result("c", "8", "pretuned", 0.6)]) == (None, None)
    assert results_table([]) == "no variants yet"
