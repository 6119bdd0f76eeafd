"""`python -m studio tune STUDY.yaml [--json]`: a tuning study on Optuna (studio.tune), run or
continued; `results STUDY` (a study file, its name or its run id) prints its trials and best
settings."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.experiments.study_summary import StudySummary
from studio.core.jobs import TuneRequest, TuneResult

log = logging.getLogger("studio")


def add_parsers(sub: Any, common: Any) -> None:
    tune = sub.add_parser(
        "tune",
        help="search run settings with Optuna (run again: the study continues)",
        description="Run a study file's trials (each a pre-finetuning run in the store) until "
        "the study holds its trial count; a study stopped or killed continues where it ended.",
    )
    common(tune, "data", "tasks", "store", "json")
    tune.add_argument("config", help="study file (YAML): base, space, trials, objective")


def cmd_tune(args: argparse.Namespace) -> int:
    from studio.cli import commands
    from studio.core import paths
    from studio.core.experiments.transfer import load_yaml

    path = Path(args.config)
    request = TuneRequest(load_yaml(path), str(path), str(path.parent), path.stem)
    store = commands._store(args, create=True)
    result = commands._run(request, args, store, paths.data_dir(args.data_dir))
    assert isinstance(result, TuneResult)
    show(result.summary, args.json)
    return 0


def show(summary: StudySummary, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.to_dict(), indent=1))
    else:
        print(f"{summary.text()}\n{summary.run_id}")


def study_id(store: Path, given: str) -> str | None:
    """The study run that `given` names: a study file (by its name), a study's name, or its
    run id; None when it names no study (a run id of another kind)."""
    from studio.core.experiments.tune import load_study
    from studio.store import RunStore

    path = Path(given)
    is_file = path.suffix in (".yaml", ".yml") and path.is_file()
    name = load_study(path).name if is_file else given
    with RunStore(store) as db:
        studies = db.list_runs("tune")
    for run in studies:  # newest first
        if run.id == given or run.config.get("name") == name:
            return run.id
    if path.suffix in (".yaml", ".yml"):
        raise StudioError(f"the study {name!r} of {given} has not run in {store} yet")
    return None


def results(store: Path, given: str, as_json: bool) -> bool:
    """Print a study's results when `given` names one; False when it does not."""
    from studio.tune import read_summary

    found = study_id(store, given)
    if found is None:
        return False
    show(read_summary(store, found), as_json)
    return True


COMMANDS = {"tune": cmd_tune}
