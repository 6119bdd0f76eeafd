"""The Runs tab's take-away actions: the selected runs' metric rows as CSV or Parquet, and one
run's HTML report (the same writers as `export-metrics` and `report`)."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from studio.core.errors import StudioError
from studio.store.report_data import write_report
from studio.store.tables import export_metrics
from studio.ui import messages
from studio.ui.file_dialogs import save_file

FILTERS = {"CSV (*.csv)": "csv", "Parquet (*.parquet)": "parquet"}


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "run"


def _may_replace(parent: QWidget, out: Path, picked: str) -> bool | None:
    """Whether writing `out` may replace it: the file dialog already asked about the path it
    returned; a suffix added after it is asked here. None: the user declined."""
    if out == Path(picked) or not out.exists():
        return True
    answer = QMessageBox.question(parent, "Replace the file?", f"{out} exists. Replace it?")
    return True if answer == QMessageBox.StandardButton.Yes else None


def export_metrics_dialog(parent: QWidget, store_path: Path, run_ids: list[str]) -> Path | None:
    """Ask for a file (CSV or Parquet, by the filter or the suffix) and write the runs' rows."""
    if not run_ids:
        return None
    name = f"{_safe(run_ids[0])}-metrics.csv" if len(run_ids) == 1 else "metrics.csv"
    path, chosen = save_file(
        parent, "metrics", "Export metrics", name, ";;".join(FILTERS), next(iter(FILTERS))
    )
    if not path:
        return None
    out = Path(path)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FILTERS.values():
        fmt = FILTERS.get(chosen, "csv")
        out = out.with_name(f"{out.name}.{fmt}")
    force = _may_replace(parent, out, path)
    if force is None:
        return None
    try:
        count = export_metrics(store_path, run_ids, fmt, out, force=force)
    except StudioError as exc:
        QMessageBox.warning(parent, "The metrics were not exported", str(exc))
        return None
    messages.saved(
        parent, "Metrics exported", f"{count} rows of {len(run_ids)} run(s) in {out}", out
    )
    return out


def report_dialog(
    parent: QWidget, store_path: Path, run_id: str, open_it: bool = True
) -> Path | None:
    """Ask where to write the run's HTML report, write it and open it in the browser."""
    path, _ = save_file(
        parent, "report", "Save report", f"{_safe(run_id)}-report.html", "HTML (*.html)"
    )
    if not path:
        return None
    out = Path(path if path.lower().endswith((".html", ".htm")) else f"{path}.html")
    force = _may_replace(parent, out, path)
    if force is None:
        return None
    try:
        write_report(store_path, run_id, out, force=force)
    except StudioError as exc:
        QMessageBox.warning(parent, "The report was not written", str(exc))
        return None
    # No browser to open it (or not asked to): say where it is, and offer its folder.
    if not (open_it and QDesktopServices.openUrl(QUrl.fromLocalFile(str(out)))):
        messages.saved(parent, "Report saved", f"The report of {run_id} is in {out}", out)
    return out
