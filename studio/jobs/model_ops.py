"""The use cases that try a trained model and publish it: `predict` (the Playground, the
`predict` command) and `publish` (the `publish` command)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.jobs import PredictRequest, PredictResult, PublishRequest, PublishResult
from studio.jobs.context import Context

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "STUDIO_OFFLINE")


def predict(request: PredictRequest, context: Context) -> PredictResult:
    from studio.train.predict import load_predictor, model_folder, predict

    folder = model_folder(request.model, context.store_path, request.which)
    context.progress(0.2, f"loading {folder}")
    predictor = load_predictor(folder)
    return PredictResult(str(folder), tuple(predict(predictor, request)))


def offline_reason() -> str | None:
    """Why the Hub cannot be reached now (None: it can): a variable that says offline, or no
    answer from huggingface.co."""
    from studio.core.tasks.availability import hub_online

    for name in OFFLINE_VARIABLES:
        if os.environ.get(name, "").lower() in ("1", "true", "yes", "on"):
            return f"{name}={os.environ[name]}"
    return None if hub_online() else "huggingface.co cannot be reached"


def publish(request: PublishRequest, context: Context) -> PublishResult:
    """Refuse at once when offline; else export the run hub-ready (into a temporary folder) or
    take the export folder as it is, create the repository if missing and upload it."""
    reason = offline_reason()
    if reason:
        raise StudioError(
            f"cannot publish to {request.repo_id}: the Hugging Face Hub is offline ({reason}); "
            "nothing was exported or uploaded"
        )
    given = Path(request.source).expanduser()
    if (given / "heads.json").is_file():
        _check_card(given)
        return _upload(given, request, context)
    from studio.session import export_run

    with tempfile.TemporaryDirectory(prefix="studio-publish-") as tmp:
        folder = export_run(
            context.store(), request.source, request.which, Path(tmp) / "export",
            context.progress, hub_ready=True,
        )  # fmt: skip
        return _upload(folder, request, context)


def _check_card(folder: Path) -> None:
    """An export folder goes as it is only with the Hub's metadata in its card."""
    from huggingface_hub import ModelCard

    try:
        data = ModelCard.load(folder / "README.md").data
    except (OSError, ValueError) as exc:
        raise StudioError(f"{folder}/README.md cannot be read as a model card: {exc}") from exc
    if not data.eval_results and not data.datasets:
        raise StudioError(
            f"{folder} was not exported with --hub-ready (its card has no model-index); "
            "export it again with --hub-ready, or publish the run itself"
        )


def _upload(folder: Path, request: PublishRequest, context: Context) -> PublishResult:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    try:
        context.progress(0.6, f"creating {request.repo_id}")
        repo = api.create_repo(request.repo_id, private=request.private, exist_ok=True)
        context.progress(0.7, f"uploading {folder}")
        api.upload_folder(
            folder_path=folder,
            repo_id=request.repo_id,
            commit_message="Upload a model pre-finetuned with Muppet Studio",
        )
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise StudioError(f"publishing to {request.repo_id} failed: {exc}") from exc
    return PublishResult(str(repo))
