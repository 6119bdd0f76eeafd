"""What a user adds to a run — a name, tags, notes, a star — the full-text search over them
(SQLite FTS5 through sqlite-utils), filters, each session's manifest, and the validation rows a
comparison reads. A mixin of RunStore (studio/store/runs.py), which supplies the connection."""

from __future__ import annotations

import functools
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.compare import EvalRow
from studio.core.manifest import Manifest
from studio.core.run_query import RunQuery, check_tag, config_text, fts_query, matches
from studio.core.run_query import text_matches as plain_match
from studio.core.run_record import Run
from studio.store.db import database
from studio.store.schema import SCHEMA_VERSION, SEARCH_COLUMNS, SEARCH_TABLE

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)

_UPSERT_SEARCH = (
    f"INSERT INTO {SEARCH_TABLE} (run_id, name, notes, tags, config) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(run_id) DO UPDATE SET name = excluded.name, notes = excluded.notes,"
    " tags = excluded.tags, config = excluded.config"
)  # an upsert, never INSERT OR REPLACE: a REPLACE deletes without firing the FTS triggers


class RunMetadata:
    """Tags, notes, star, rename, search and manifests; RunStore provides what is declared."""

    path: Path
    _conn: sqlite3.Connection
    readonly: bool

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the connection, made when first needed (see studio.store.db)."""
        return database(self._conn)

    def transaction(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def get_run(self, run_id: str) -> Run:
        raise NotImplementedError

    def list_runs(self, kind: str | None = None) -> list[Run]:
        raise NotImplementedError

    def _update(self, run_id: str, fields: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- the search index --------------------------------------------------------------------

    def _enable_search(self) -> None:
        """Create the FTS5 index (sqlite-utils' enable_fts, its triggers keeping it in step
        with run_search), fill run_search for every run and rebuild the index, then mark the
        store as of this version. enable_fts commits its own writes, so it runs outside the
        schema's transaction; a second process doing the same at once finds the index made."""
        table = self.db.table(SEARCH_TABLE)
        if table.detect_fts() is None:
            try:
                table.enable_fts(list(SEARCH_COLUMNS), fts_version="FTS5", create_triggers=True)
            except sqlite3.OperationalError as e:
                if "already exists" not in str(e):
                    raise
        with self.transaction():
            for (run_id,) in self._conn.execute("SELECT id FROM runs").fetchall():
                self._index(run_id)
            self._conn.execute(
                f"INSERT INTO {SEARCH_TABLE}_fts({SEARCH_TABLE}_fts) VALUES('rebuild')"
            )
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _index(self, run_id: str) -> None:
        """Bring the run's row of the search table up to date (its FTS index follows)."""
        row = self._conn.execute(
            "SELECT name, notes, config FROM runs WHERE id = ?", [run_id]
        ).fetchone()
        if row is None:
            return
        name, notes, config = row
        try:
            parsed = json.loads(config) if config else {}
        except ValueError:
            parsed = {}
        words = config_text(parsed) if isinstance(parsed, dict) else ""
        tags = " ".join(self._tags_of(run_id).get(run_id, ()))
        self._conn.execute(_UPSERT_SEARCH, [run_id, name or "", notes or "", tags, words])

    def _forget(self, run_id: str) -> None:
        """Drop what this module keeps of a deleted run (inside the delete's transaction)."""
        for table in ("tags", SEARCH_TABLE, "manifests"):
            self._conn.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])

    def search_ids(self, text: str) -> set[str]:
        """The runs whose name, notes, tags, config values or id hold every word of `text`
        (each as the start of a word: "swe" finds "sweep")."""
        query = fts_query(text)
        if not query:
            return {r.id for r in self.list_runs()}
        try:
            found = self.db.table(SEARCH_TABLE).search(query, columns=["run_id"])
            return {row["run_id"] for row in found}
        # No index: an older store opened read-only (sqlite-utils says ValueError).
        except (sqlite3.OperationalError, ValueError):
            return {r.id for r in self.list_runs() if plain_match(_haystack(r), text)}

    def find_runs(self, query: RunQuery) -> list[Run]:
        """The runs that pass `query` (core.run_query), newest first."""
        found = self.search_ids(query.text) if query.text.strip() else None
        return [r for r in self.list_runs(query.kind) if matches(r, query, found)]

    # -- name, notes, star, tags -------------------------------------------------------------

    def rename(self, run_id: str, name: str) -> None:
        """Give the run a new name (not empty)."""
        name = name.strip()
        if not name:
            raise ValueError("a run's name cannot be empty")
        with self.transaction():
            self._update(run_id, {"name": name})
            self._index(run_id)

    def set_notes(self, run_id: str, notes: str) -> None:
        """Replace the run's notes ("" clears them)."""
        with self.transaction():
            self._update(run_id, {"notes": notes.strip() or None})
            self._index(run_id)

    def set_starred(self, run_id: str, starred: bool = True) -> None:
        self._update(run_id, {"starred": 1 if starred else None})

    def tag(
        self, run_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> tuple[str, ...]:
        """Add and remove tags of a run; returns its tags now, sorted. A tag that is not one
        word is ValueError before anything changes."""
        added = [check_tag(t) for t in add]
        removed = list(remove)
        with self.transaction():
            self.get_run(run_id)  # UnknownRun for a mistyped id
            self._conn.executemany(
                "INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)",
                [(run_id, t) for t in added],
            )
            self._conn.executemany(
                "DELETE FROM tags WHERE run_id = ? AND tag = ?", [(run_id, t) for t in removed]
            )
            self._index(run_id)
        return self._tags_of(run_id).get(run_id, ())

    def all_tags(self) -> dict[str, int]:
        """Every tag in the store and how many runs carry it, by name."""
        try:
            cursor = self._conn.execute("SELECT tag, COUNT(*) FROM tags GROUP BY tag ORDER BY tag")
        except sqlite3.OperationalError:  # an older store opened read-only
            return {}
        return {tag: count for tag, count in cursor}

    def _tags_of(self, run_id: str | None) -> dict[str, tuple[str, ...]]:
        """The tags of one run (or all), sorted, by run."""
        where, params = ("", []) if run_id is None else (" WHERE run_id = ?", [run_id])
        try:
            rows = self._conn.execute(
                f"SELECT run_id, tag FROM tags{where} ORDER BY run_id, tag", params
            ).fetchall()
        except sqlite3.OperationalError:  # an older store opened read-only: not migrated
            return {}
        found: dict[str, list[str]] = {}
        for owner, tag in rows:
            found.setdefault(owner, []).append(tag)
        return {owner: tuple(tags) for owner, tags in found.items()}

    # -- manifests ---------------------------------------------------------------------------

    def add_manifest(self, run_id: str, manifest: Manifest) -> None:
        """Record what produced the run's current session (replacing one written for the same
        session before)."""
        with self.transaction():
            row = self._conn.execute("SELECT started FROM runs WHERE id = ?", [run_id]).fetchone()
            started = (row[0] if row else None) or manifest.created
            self._conn.execute(
                "INSERT OR REPLACE INTO manifests (run_id, started, manifest) VALUES (?, ?, ?)",
                [run_id, float(started), json.dumps(manifest.to_dict(), default=str)],
            )

    def manifests(self, run_id: str) -> list[Manifest]:
        """The run's manifests, one per session it recorded, oldest first."""
        try:
            rows = self._conn.execute(
                "SELECT manifest FROM manifests WHERE run_id = ? ORDER BY started", [run_id]
            ).fetchall()
        except sqlite3.OperationalError:  # an older store opened read-only
            return []
        return list(_parsed(rows, run_id))

    # -- comparing runs ----------------------------------------------------------------------

    def validation_rows(self, run_id: str) -> list[EvalRow]:
        """(step, task, name, value) of every validation row of a run, by step."""
        cursor = self._conn.execute(
            "SELECT step, task, name, value FROM metrics WHERE run_id = ?"
            " AND name LIKE 'eval\\_%' ESCAPE '\\' ORDER BY step, id",
            [run_id],
        )
        return [(int(s), t, str(n), v) for s, t, n, v in cursor]


def _parsed(rows: Sequence[tuple[str]], run_id: str) -> Iterator[Manifest]:
    for (text,) in rows:
        try:
            yield Manifest.from_dict(json.loads(text))
        except (ValueError, TypeError) as e:  # written by a later studio, or damaged
            log.warning("run %s: a manifest could not be read (%s)", run_id, e)


def _haystack(run: Run) -> str:
    return " ".join([run.id, run.name, run.notes, *run.tags, config_text(run.config)])
