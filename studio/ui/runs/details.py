"""The Runs tab's details of the selected run: its notes, tags and the manifest of each of its
sessions (versions, machine, data, seed)."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser, QWidget

from studio.core.manifest import Manifest, session_label
from studio.core.run_record import Run


def details_html(run: Run, manifests: list[Manifest]) -> str:
    """The run's notes, tags and its latest session's manifest (earlier ones folded below)."""
    esc = html.escape
    star = " ★" if run.starred else ""
    parts = [f"<b>{esc(run.name or run.id)}</b>{star} <small>{esc(run.id)}</small>"]
    if run.tags:
        parts.append("Tags: " + ", ".join(f"<code>{esc(t)}</code>" for t in run.tags))
    parts.append(
        f"<i>{esc(run.notes)}</i>".replace("\n", "<br>")
        if run.notes
        else "<i>No notes</i> (right-click the run to add some)"
    )
    if not manifests:
        parts.append(
            "No manifest recorded (a run from before manifests, or one that never trained)."
        )
    for i, manifest in reversed(list(enumerate(manifests))):
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in manifest.rows())
        parts.append(f"<b>Manifest, {esc(session_label(i, manifest))}</b><table>{rows}</table>")
    return "<br>".join(parts)


class RunDetails(QTextBrowser):
    """Shows one run's details; empty (with a hint) for no run or several."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(False)
        self.setMinimumHeight(60)
        self.show_run(None, [])

    def show_run(self, run: Run | None, manifests: list[Manifest]) -> None:
        if run is None:
            self.setHtml("<i>Select one run to see its notes, tags and manifest.</i>")
        else:
            self.setHtml(details_html(run, manifests))
