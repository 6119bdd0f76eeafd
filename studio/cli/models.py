"""`python -m studio predict | publish`: try a trained model on an input, and upload one to the
Hugging Face Hub. Both run the window's use cases (studio/jobs/model_ops.py)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from studio.core import paths
from studio.core.jobs import HeadPrediction, PredictRequest, PredictResult, PublishRequest
from studio.core.mistakes import Mistakes, describe, read_mistakes

SHOWN_MISTAKES = 5


def _predict_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="run store file (default: STUDIO_HOME/studio.db)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--task", help="only this task's head (and its labels)")
    parser.add_argument("--checkpoint", help="best (default), latest or a step")
    parser.add_argument("--choices", nargs="+", help="the answers of a multiple-choice question")
    parser.add_argument("--context", help="the passage a span question is asked about")
    parser.add_argument(
        "--most-wrong",
        action="store_true",
        help="also the validation examples it got most wrong at its last evaluation",
    )


def _predict_parser() -> argparse.ArgumentParser:
    """The texts and the options in any order: argparse's intermixed parsing, which a parser
    with sub-commands cannot do itself."""
    parser = argparse.ArgumentParser(prog="python -m studio predict")
    _predict_options(parser)
    parser.add_argument("model", metavar="RUN|EXPORT", help="a run id or an export folder")
    parser.add_argument("texts", nargs="*", metavar="TEXT", help='"text" ["text pair"]')
    return parser


def add_parsers(sub: Any, options: Any) -> None:
    predict = sub.add_parser(
        "predict",
        help="a model's answer to a sentence, a pair, a question with choices or a context",
        description="Each matching head's prediction with its probabilities, for a run "
        "(its best or latest checkpoint), a checkpoint folder or an export folder.",
        usage='python -m studio predict RUN|EXPORT [--task T] "text" ["text pair"] '
        "[--choices A B ...] [--context C] [--checkpoint best|latest|N] [--most-wrong] "
        "[--store S] [--json]",
    )
    _predict_options(predict)
    predict.add_argument("arguments", nargs=argparse.REMAINDER, metavar='RUN|EXPORT "text"')
    publish = sub.add_parser(
        "publish", help="upload a run (exported hub-ready) or an export to the Hugging Face Hub"
    )
    options(publish, "store")
    publish.add_argument("source", metavar="RUN|EXPORT", help="a run id or an export folder")
    publish.add_argument("repo_id", metavar="REPO_ID", help="user/name on the Hub")
    publish.add_argument("--checkpoint", default="best", help="best (default), latest or a step")
    publish.add_argument("--private", action="store_true", help="create the repository private")


def _store(args: argparse.Namespace) -> Path:
    return Path(args.store) if args.store else paths.store_path()


def _perform(request: Any, args: argparse.Namespace) -> Any:
    from studio.jobs.context import Context
    from studio.jobs.operations import perform

    return perform(request, Context(store_path=_store(args), kind=request.tag))


def cmd_predict(outer: argparse.Namespace) -> int:
    args = _predict_parser().parse_intermixed_args(outer.arguments)
    for key in ("store", "json", "task", "checkpoint", "choices", "context", "most_wrong"):
        if getattr(args, key) in (None, False):  # given before RUN|EXPORT
            setattr(args, key, getattr(outer, key))
    args.checkpoint = args.checkpoint or "best"
    if len(args.texts) > 2:
        print('error: give one "text" and at most one "text pair"', file=sys.stderr)
        return 2
    found = _mistakes(args) if args.most_wrong else None
    result = None
    if args.texts:
        request = PredictRequest(
            model=args.model,
            text=args.texts[0],
            text_pair=args.texts[1] if len(args.texts) > 1 else None,
            choices=tuple(args.choices or ()),
            context=args.context,
            task=args.task,
            which=args.checkpoint,
        )
        result = _perform(request, args)
        assert isinstance(result, PredictResult)
    elif not args.most_wrong:
        print("error: give a text to predict on (or --most-wrong)", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_json(result, found), indent=1, ensure_ascii=False))
        return 0
    if result is not None:
        print(f"# {result.source}")
        for prediction in result.predictions:
            print(_line(prediction))
    if args.most_wrong:
        _print_mistakes(found, args.task)
    return 0


def _line(p: HeadPrediction) -> str:
    tasks = ",".join(p.tasks)
    if p.value is not None:
        return f"{tasks} [{p.format}]: {p.value:.4f}"
    shown = "  ".join(f"{label!r} {chance:.3f}" for label, chance in p.probabilities[:5])
    where = f" at characters {p.span[0]}-{p.span[1]}" if p.span else ""
    return f"{tasks} [{p.format}]: {p.label!r}{where}  ({shown})"


def _mistakes(args: argparse.Namespace) -> Mistakes | None:
    folder = Path(args.model).expanduser()
    if not folder.is_dir():
        folder = paths.run_dir(_store(args), args.model)
    return read_mistakes(folder)


def _print_mistakes(found: Mistakes | None, task: str | None) -> None:
    if found is None:
        print("no evaluation recorded its mistakes here (runs record them from this version on)")
        return
    print(f"# most wrong at the evaluation of update {found.step}")
    for name, mistakes in found.tasks.items():
        if task is None or name == task:
            print(f"{name}:")
            for mistake in mistakes[:SHOWN_MISTAKES]:
                print(f"  {describe(mistake)}")


def _json(result: PredictResult | None, found: Mistakes | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if result is not None:
        out["source"] = result.source
        out["predictions"] = [asdict(p) for p in result.predictions]
    if found is not None:
        out["most_wrong"] = asdict(found)
    return out


def cmd_publish(args: argparse.Namespace) -> int:
    request = PublishRequest(args.source, args.repo_id, args.checkpoint, args.private)
    print(_perform(request, args).url)
    return 0


COMMANDS = {"predict": cmd_predict, "publish": cmd_publish}
