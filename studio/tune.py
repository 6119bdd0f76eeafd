"""Running a tuning study on Optuna; shared by the CLI and the window's `tune` job.

The study lives in Optuna's own SQLite storage beside the run store (`optuna.db`), under the
study file's name, so running the same file again continues it. The study is also a run of
kind `tune` in the store (its config: the study file's, its summary under `summary`); each
trial is an ordinary pre-finetuning run whose `source_run` is the study's run, and its run id
is the trial's user attribute `run_id`.

Pruning: a sink beside the store's hears each validation's `eval_mean`, reports it to the
trial and, when the pruner says so, sets the trial's own stop flag: the run stops as Stop stops
it (it saves), is tagged `pruned`, and the trial is told PRUNED.

A `tune` killed mid-trial leaves that trial RUNNING in Optuna and its run `running` in the
store. Run again, the study's run is claimed (two processes never drive one study), the trial
is marked FAIL (`interrupted`) and enqueued again with the same settings; that new trial
resumes the killed run from its checkpoint, so the study still ends with `trials` trials and
one run each. Trials that completed, were pruned or failed on their own count toward `trials`.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import ConfigError, StudioError
from studio.core.experiments.study_summary import StudySummary, TrialRow
from studio.core.experiments.transfer import transfer_config
from studio.core.experiments.tune import Param, StudyConfig
from studio.core.metric_catalogue import EVAL_MEAN
from studio.core.sink import MetricRow, NullSink, Sink, TeeSink
from studio.core.tasks.spec import TaskSpec
from studio.experiments import Progress, fails_run, sweep_point, transfer
from studio.session import Outcome, execute, resume
from studio.store import RunStore

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)
STORAGE_FILE = "optuna.db"
PRUNED_TAG = "pruned"
RUN_ID, INTERRUPTED, RESUME_RUN = "run_id", "interrupted", "resume_run"
ENDED = ("stopped", "interrupted", "failed", "finished")


def storage_path(store_path: Path) -> Path:
    """Optuna's SQLite file: beside the run store."""
    return Path(store_path).absolute().parent / STORAGE_FILE


class Interrupted(StudioError):
    """The study was stopped during a trial: it is run again when the study continues."""


class _TrialStop(threading.Event):
    """Set when the pruner stops this trial, or when the whole study is stopped."""

    def __init__(self, study_stop: threading.Event) -> None:
        super().__init__()
        self.study_stop = study_stop

    def is_set(self) -> bool:
        return super().is_set() or self.study_stop.is_set()


class PruningSink(NullSink):
    """Reports each validation mean to the trial; asks the pruner whether to stop it."""

    def __init__(self, trial: optuna.Trial, stop: threading.Event) -> None:
        self.trial, self.stop = trial, stop
        self.pruned_at: int | None = None

    def metrics(self, rows: list[MetricRow]) -> None:
        for row in rows:
            if row.name == EVAL_MEAN and row.task is None:
                self.report(row.step, row.value)

    def report(self, step: int, value: float | None) -> None:
        if value is None or self.pruned_at is not None:
            return
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.pruned_at = step
            self.stop.set()


def run_study(
    config: StudyConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    progress: Progress | None = None,
    on_created: Callable[[str], None] | None = None,
    extra_sink: Sink | None = None,
) -> StudySummary:
    """Run (or continue) the study until it holds `config.trials` counted trials or `stop`;
    its summary. RunBusy when another process drives the same study now."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the studio logs each trial itself
    report = progress or (lambda fraction, message: None)
    unknown = [t for t in config.base.tasks if t not in catalog]
    if unknown:
        raise ConfigError(f"study {config.name}: tasks {unknown} are not in the catalog")
    study = _open_study(config, store_path)
    study_id = _study_run(study, config, store_path)
    if on_created is not None:
        on_created(study_id)
    job = _Job(config, study, study_id, catalog, data_dir, store_path, stop, extra_sink, report)
    with RunStore(store_path) as store, fails_run(store, study_id):
        dead = store.mark_interrupted()
        if dead:
            log.warning("runs left running by a process that ended, now interrupted: %s", dead)
        _recover(study, store)
        job.work()
        summary = save_summary(store, study_id, study)
        _finish(store, study_id, study, config, stop)
    report(1.0, "study finished")
    return summary


def _open_study(config: StudyConfig, store_path: Path) -> optuna.Study:
    import optuna

    path = storage_path(store_path)
    path.parent.mkdir(parents=True, exist_ok=True)  # a new STUDIO_HOME has no folder yet
    url = f"sqlite:///{path}"
    # A busy SQLite file waits rather than fails: the window may read it meanwhile.
    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})
    if config.sampler == "random":
        sampler: optuna.samplers.BaseSampler = optuna.samplers.RandomSampler(seed=config.seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=config.seed)
    return optuna.create_study(
        study_name=config.name,
        storage=storage,
        sampler=sampler,
        pruner=_pruner(config),
        direction="maximize",
        load_if_exists=True,
    )


def _pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    import optuna

    args = dict(config.pruner_args)
    for key in ("n_startup_trials", "n_warmup_steps", "interval_steps"):
        if key in args:
            args[key] = int(args[key])
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(**args)
    if config.pruner == "percentile":
        return optuna.pruners.PercentilePruner(**args)
    if config.pruner == "threshold":
        return optuna.pruners.ThresholdPruner(**args)
    return optuna.pruners.NopPruner()


def _study_run(study: optuna.Study, config: StudyConfig, store_path: Path) -> str:
    """The study's run in the store: claimed again when it exists (RunBusy while another
    process drives it), else created and remembered in the study."""
    settings = {**config.to_dict(), "storage": str(storage_path(store_path))}
    with RunStore(store_path) as store:
        run_id = study.user_attrs.get(RUN_ID)
        if isinstance(run_id, str) and run_id in {r.id for r in store.list_runs("tune")}:
            before = store.claim(run_id, ENDED)
            summary = before.config.get("summary")
            store.update_run(
                run_id, config={**settings, "summary": summary}, max_steps=config.trials
            )
            store.add_log(run_id, "info", f"continuing the study toward {config.trials} trials")
            return run_id
        run_id = store.create_run(
            config.name,
            "tune",
            settings,
            config.base.model,
            device=config.base.device,
            max_steps=config.trials,
            status="running",
        )
    study.set_user_attr(RUN_ID, run_id)
    return run_id


def _recover(study: optuna.Study, store: RunStore) -> None:
    """Trials a killed process left RUNNING: marked FAIL (interrupted) and enqueued again with
    their settings, to resume their run. Only the process that claimed the study's run gets
    here, so no other process is running them."""
    from optuna.trial import TrialState

    storage = study._storage  # the public storage API; Study has no setter of its own
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        run_again(study, trial, store)
        log.warning("trial %d was left running by a process that ended; run again", trial.number)


def run_again(study: optuna.Study, trial: Any, store: RunStore) -> None:
    """Enqueue an interrupted trial's settings: the next trial asked for resumes its run."""
    attrs = {"rerun_of": trial.number}
    run_id = trial.user_attrs.get(RUN_ID)
    if run_id:
        attrs[RESUME_RUN] = run_id
        store.add_log(run_id, "info", f"trial {trial.number} was interrupted; it runs again")
    study.enqueue_trial(dict(trial.params), user_attrs=attrs)


def counted(study: optuna.Study) -> int:
    """Trials that count toward the budget: ended, and not interrupted."""
    from optuna.trial import TrialState

    ended = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False, states=ended)
    return sum(1 for t in trials if not t.user_attrs.get(INTERRUPTED))


class _Job:
    """One process's work on a study: ask, run, tell, until the budget is met or a stop."""

    def __init__(
        self,
        config: StudyConfig,
        study: optuna.Study,
        study_id: str,
        catalog: dict[str, TaskSpec],
        data_dir: Path | None,
        store_path: Path,
        stop: threading.Event,
        extra_sink: Sink | None,
        report: Progress,
    ) -> None:
        self.config, self.study, self.study_id = config, study, study_id
        self.catalog, self.data_dir, self.store_path = catalog, data_dir, store_path
        self.stop, self.extra_sink, self.report = stop, extra_sink, report

    def work(self) -> None:
        from optuna.trial import TrialState

        while not self.stop.is_set():
            done = counted(self.study)
            if done >= self.config.trials:
                return
            trial = self.study.ask()
            self.report(
                done / self.config.trials,
                f"trial {trial.number} ({done + 1} of {self.config.trials})",
            )
            try:
                value = self.run_trial(trial)
            except _Pruned:
                self.study.tell(trial, state=TrialState.PRUNED)
            except Interrupted:  # stopped: the next `tune` continues this trial's run
                trial.set_user_attr(INTERRUPTED, True)
                ended = self.study.tell(trial, state=TrialState.FAIL)
                with RunStore(self.store_path) as store:
                    run_again(self.study, ended, store)
            except Exception as exc:  # noqa: BLE001 - a failed trial is recorded; the study goes on
                message = (
                    str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
                )
                log.warning("trial %d failed: %s", trial.number, message)
                trial.set_user_attr("error", message)
                self.study.tell(trial, state=TrialState.FAIL)
            else:
                self.study.tell(trial, value)
            self._after(trial.number)

    def _after(self, number: int) -> None:
        with RunStore(self.store_path) as store:
            summary = save_summary(store, self.study_id, self.study)
        row = next(t for t in summary.trials if t.number == number)
        value = "" if row.value is None else f", value {row.value:.4f}"
        log.info("trial %d %s%s", number, row.state, value)

    def run_trial(self, trial: optuna.Trial) -> float:
        params = {p.key: _suggest(trial, p) for p in self.config.space}
        trial_stop = _TrialStop(self.stop)
        pruning = PruningSink(trial, trial_stop)
        sink: Sink = TeeSink(pruning, self.extra_sink) if self.extra_sink else pruning
        outcome = self._train(trial, params, trial_stop, sink, pruning)
        run_id = outcome.run_id
        with RunStore(self.store_path) as store:
            if pruning.pruned_at is not None and outcome.status == "stopped":
                store.tag(run_id, add=[PRUNED_TAG])
                store.add_log(
                    run_id,
                    "info",
                    f"pruned by study {self.config.name} at update {pruning.pruned_at}",
                )
                raise _Pruned
            if outcome.status == "stopped":
                raise Interrupted(f"trial {trial.number} stopped")
            if outcome.status != "finished":
                raise StudioError(outcome.error or f"its run {outcome.status}")
            return self._value(store, trial, run_id)

    def _train(
        self,
        trial: optuna.Trial,
        params: dict[str, Any],
        stop: threading.Event,
        sink: Sink,
        pruning: PruningSink,
    ) -> Outcome:
        """A new run of the trial's config, or the killed run it continues."""

        def created(run_id: str) -> None:
            trial.set_user_attr(RUN_ID, run_id)
            with RunStore(self.store_path) as store:
                store.update_run(run_id, source_run=self.study_id)
                for step, value, _ in store.metric_series(run_id, EVAL_MEAN):
                    pruning.report(step, value)  # a resumed run's validations so far

        previous = trial.user_attrs.get(RESUME_RUN)
        if previous and self._resumable(previous):
            return resume(
                previous, self.catalog, self.data_dir, self.store_path, stop, sink, created
            )
        config = self.config.trial_config(params, trial.number)
        return execute(config, self.catalog, self.data_dir, self.store_path, stop, sink, created)

    def _resumable(self, run_id: str) -> bool:
        with RunStore(self.store_path) as store:
            try:
                return store.get_run(run_id).status in ("stopped", "interrupted", "failed")
            except KeyError:
                return False

    def _value(self, store: RunStore, trial: optuna.Trial, run_id: str) -> float:
        """The objective of a finished run: its last or best validation mean, or a transfer."""
        objective = self.config.objective
        if objective.transfer is None:
            values = [v for _, v, _ in store.metric_series(run_id, EVAL_MEAN) if v is not None]
            if not values:
                raise StudioError(f"run {run_id} recorded no validation mean")
            return float(values[-1] if objective.kind == "validation_mean" else max(values))
        settings = {
            "checkpoint": "latest",
            **objective.transfer,
            "source": run_id,
            "name": f"{self.config.name}: trial {trial.number} transfer",
        }
        transfer_id = transfer(
            transfer_config(settings, f"study {self.config.name}: objective"),
            self.catalog, self.data_dir, self.store_path, self.stop,
        )  # fmt: skip
        trial.set_user_attr("transfer_id", transfer_id)
        if self.stop.is_set():
            raise Interrupted(f"trial {trial.number}: its transfer was stopped")
        point = sweep_point(store.results(transfer_id))
        if objective.value not in point:
            raise StudioError(f"transfer {transfer_id} gave no {objective.value}")
        return point[objective.value]


class _Pruned(Exception):
    """The pruner stopped the trial."""


def _suggest(trial: optuna.Trial, param: Param) -> Any:
    if param.kind == "categorical":
        return trial.suggest_categorical(param.key, list(param.choices))
    if param.kind == "int":
        step = int(param.step) if param.step is not None else 1
        return trial.suggest_int(
            param.key, int(param.low), int(param.high), step=step, log=param.log
        )
    return trial.suggest_float(param.key, param.low, param.high, step=param.step, log=param.log)


def summarize(study: optuna.Study, study_id: str, storage: str) -> StudySummary:
    """The study's trials, best trial and parameter importances."""
    from optuna.trial import TrialState

    rows = tuple(_row(t) for t in study.get_trials(deepcopy=False))
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    best = _row(study.best_trial) if complete else None
    return StudySummary(
        study.study_name, study_id, storage, rows, best, _importances(study, complete)
    )


def _row(trial: optuna.trial.FrozenTrial) -> TrialRow:
    return TrialRow(
        trial.number,
        trial.state.name.lower(),
        dict(trial.params),
        trial.value if trial.values else None,
        trial.user_attrs.get(RUN_ID),
        bool(trial.user_attrs.get(INTERRUPTED)),
    )


def _importances(study: optuna.Study, complete: list[Any]) -> dict[str, float]:
    """Optuna's fANOVA importances once two trials completed with settings that differ."""
    import optuna

    varied = {k for t in complete for k in t.params if t.params[k] != complete[0].params.get(k)}
    if len(complete) < 2 or not varied:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # too few trials for a good estimate: still useful
            found = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError) as exc:
        log.info("no parameter importances yet: %s", exc)
        return {}
    return {k: float(v) for k, v in found.items()}


def save_summary(store: RunStore, study_id: str, study: optuna.Study) -> StudySummary:
    """The summary into the study's run (the window reads it there) and its step."""
    run = store.get_run(study_id)
    summary = summarize(study, study_id, str(run.config.get("storage", "")))
    store.update_run(
        study_id,
        config={**run.config, "summary": summary.to_dict()},
        step=counted(study),
    )
    return summary


def _finish(
    store: RunStore, study_id: str, study: optuna.Study, config: StudyConfig, stop: threading.Event
) -> None:
    from optuna.trial import TrialState

    done = counted(study)
    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    if stop.is_set() or done < config.trials:
        store.add_log(study_id, "info", f"stopped after {done} of {config.trials} trials")
        store.set_status(study_id, "stopped")
    elif len([t for t in failed if not t.user_attrs.get(INTERRUPTED)]) == done:
        store.set_status(study_id, "failed", error="every trial failed")
    else:
        store.set_status(study_id, "finished")


def read_summary(store_path: Path, study_id: str) -> StudySummary:
    """A study's summary from Optuna's storage (its truth), else the copy in its run."""
    import optuna

    with RunStore(store_path) as store:
        run = store.get_run(study_id)
    if run.kind != "tune":
        raise StudioError(f"run {study_id} is a {run.kind} run, not a tuning study")
    storage = str(run.config.get("storage", ""))
    if storage and Path(storage).is_file():
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            name = str(run.config.get("name", run.name))
            study = optuna.load_study(study_name=name, storage=f"sqlite:///{storage}")
        except KeyError:
            log.warning("%s holds no study %s; showing what the store kept", storage, run.name)
        else:
            return summarize(study, study_id, storage)
    return StudySummary.from_dict(dict(run.config.get("summary") or {"run_id": study_id}))


def find_study(store_path: Path, name: str) -> str:
    """The id of the study run named `name` (the newest); UnknownRun-like KeyError if none."""
    with RunStore(store_path) as store:
        for run in store.list_runs("tune"):
            if run.config.get("name") == name:
                return run.id
    raise StudioError(f"no tuning study named {name!r} in {store_path}")
