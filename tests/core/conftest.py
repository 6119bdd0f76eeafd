"""Helpers for the core tests: task specs built from plain mappings, as a task file holds them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from studio.core.tasks.spec import TaskSpec, parse_task

SpecFactory = Callable[..., TaskSpec]

# One minimal, valid task mapping per format.
BASE: dict[str, dict[str, Any]] = {
    "classification": {"family": "classification", "labels": ["neg", "pos", "mixed"]},
    "pair_classification": {"family": "classification", "labels": ["yes", "no"]},
    "regression": {"family": "classification"},
    "multiple_choice": {"family": "commonsense", "choices": 4},
    "extractive_qa": {"family": "mrc"},
    "summarization": {"family": "summarization"},
}


def build_spec(fmt: str, name: str = "demo", **overrides: Any) -> TaskSpec:
    data: dict[str, Any] = {"name": name, "format": fmt, "source": {"local": name}}
    data.update(BASE[fmt])
    data.update(overrides)
    return parse_task(data, f"tasks/{name}.yaml")


@pytest.fixture
def make_spec() -> SpecFactory:
    return build_spec
