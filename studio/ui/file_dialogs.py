"""Where the save and open dialogs start: a folder under STUDIO_HOME for each kind of file,
then the folder the user last chose for that kind.

Without a start folder Qt opens the process's working directory: for `make run` that is the
source checkout, where reports and exports do not belong. The last folders are kept in a small
JSON file under STUDIO_HOME (not the per-user QSettings), so each STUDIO_HOME (a project, a
test) remembers its own.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from studio.core.files import write_atomically
from studio.core.paths import studio_home

log = logging.getLogger(__name__)

MEMORY_FILE = "dialog-folders.json"
# Each kind of file and the folder under STUDIO_HOME its dialog opens in the first time.
DEFAULT_FOLDERS = {
    "report": "reports",  # a run's HTML report
    "metrics": "reports",  # metric rows as CSV or Parquet, an ablation's table
    "export": "exports",  # a pre-finetuned model exported for other tools
    "plot": "exports",  # a plot as PNG or SVG, or a folder of them
    "config": "configs",  # a run's config, an ablation file
}


def _memory_path() -> Path:
    return studio_home() / MEMORY_FILE


def _memory() -> dict[str, str]:
    """The last folder of each kind; an unreadable file is forgotten (a dialog is no reason
    to fail), and says so in the log."""
    path = _memory_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("ignoring the dialog folders in %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str)}


def _check_kind(kind: str) -> None:
    if kind not in DEFAULT_FOLDERS:
        raise ValueError(f"unknown dialog kind {kind!r}; expected one of {sorted(DEFAULT_FOLDERS)}")


def start_folder(kind: str) -> Path:
    """The folder a dialog for `kind` opens in: the last one chosen while it still exists,
    else the kind's folder under STUDIO_HOME (made, so the dialog can open in it)."""
    _check_kind(kind)
    last = _memory().get(kind)
    if last and Path(last).is_dir():
        return Path(last)
    folder = studio_home() / DEFAULT_FOLDERS[kind]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only STUDIO_HOME: open in STUDIO_HOME (or Qt's default)
        log.warning("cannot make %s: %s", folder, exc)
        return studio_home()
    return folder


def remember(kind: str, folder: Path) -> None:
    """Keep `folder` as the start of the next dialog for `kind`; a write that fails is logged."""
    _check_kind(kind)
    memory = _memory() | {kind: str(Path(folder).absolute())}
    text = json.dumps(memory, indent=1, sort_keys=True)
    try:
        write_atomically(_memory_path(), lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as exc:
        log.warning("cannot remember the %s folder: %s", kind, exc)


def save_file(
    parent: QWidget | None,
    kind: str,
    caption: str,
    name: str,
    filters: str,
    selected_filter: str = "",
) -> tuple[str, str]:
    """QFileDialog.getSaveFileName starting at `name` in the kind's folder; (path, filter),
    path "" when cancelled. The chosen file's folder is remembered."""
    start = str(start_folder(kind) / name)
    path, chosen = QFileDialog.getSaveFileName(parent, caption, start, filters, selected_filter)
    if path:
        remember(kind, Path(path).parent)
    return path, chosen


def open_file(parent: QWidget | None, kind: str, caption: str, filters: str) -> str:
    """QFileDialog.getOpenFileName in the kind's folder; "" when cancelled. The chosen file's
    folder is remembered."""
    path, _ = QFileDialog.getOpenFileName(parent, caption, str(start_folder(kind)), filters)
    if path:
        remember(kind, Path(path).parent)
    return path


def choose_folder(parent: QWidget | None, kind: str, caption: str) -> str:
    """QFileDialog.getExistingDirectory in the kind's folder; "" when cancelled. The chosen
    folder is remembered."""
    folder = QFileDialog.getExistingDirectory(parent, caption, str(start_folder(kind)))
    if folder:
        remember(kind, Path(folder))
    return folder
