"""Run metadata: rename, tags, notes and a star kept with the run, found by the full-text
search (FTS5) and the filters; each session's manifest; a store of schema 8 migrated."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from studio.core.manifest import Manifest, TaskData
from studio.core.run_query import RunQuery, fts_query
from studio.store import RunStore, UnknownRun
from studio.store import runs as store_runs
from studio.store.schema import SCHEMA_VERSION


def _three(store: RunStore) -> dict[str, str]:
    return {
        "lr": store.create_run(
            "lr sweep", "pretrain", {"tasks": ["rte", "sst2"], "sampling": "temperature"},
            "minilm", status="finished",
        ),
        "base": store.create_run(
            "baseline", "pretrain", {"tasks": ["cola"]}, "bert-base-uncased", status="stopped"
        ),
        "ft": store.create_run("fine-tune", "finetune", {"task": "rte"}, "/ckpt/step-9"),
    }  # fmt: skip


def test_tags_notes_star_and_name_survive_reopening_and_are_searched(db_path: Path) -> None:
    with RunStore(db_path) as store:
        ids = _three(store)
        assert store.tag(ids["lr"], ["paper", "good"]) == ("good", "paper")
        store.tag(ids["base"], ["good"])
        store.tag(ids["lr"], remove=["good"])
        store.set_notes(ids["base"], "The warm-up was far too short here")
        store.set_starred(ids["base"])
        store.rename(ids["ft"], "transfer probe")
    with RunStore(db_path) as store:
        lr, base, ft = (store.get_run(ids[k]) for k in ("lr", "base", "ft"))
        assert lr.tags == ("paper",) and base.tags == ("good",) and ft.tags == ()
        assert base.notes.startswith("The warm-up") and base.starred and not lr.starred
        assert ft.name == "transfer probe"
        assert store.all_tags() == {"good": 1, "paper": 1}
        assert store.search_ids("warm") == {ids["base"]}  # a word of the note, as typed
        assert store.search_ids("PAPER") == {ids["lr"]}  # a tag, any case
        assert store.search_ids("probe") == {ids["ft"]}  # the new name
        assert store.search_ids("temperature") == {ids["lr"]}  # a config value
        assert store.search_ids("rte") == {ids["lr"], ids["ft"]}
        assert store.search_ids("sweep rte") == {ids["lr"]}  # every word
        assert store.search_ids("sweep cola") == set()
        assert store.search_ids('"quoted" (x) -y *') == set()  # never FTS syntax
        store.set_notes(ids["base"], "")  # the index follows every write
        assert store.search_ids("warm") == set() and store.get_run(ids["base"]).notes == ""
        store.delete_run(ids["lr"])
        assert store.search_ids("paper") == set() and store.all_tags() == {"good": 1}


def test_filters(db_path: Path) -> None:
    with RunStore(db_path) as store:
        ids = _three(store)
        store.tag(ids["lr"], ["a", "b"])
        store.tag(ids["base"], ["a"])
        store.set_starred(ids["ft"])

        def found(**query: object) -> set[str]:
            return {r.id for r in store.find_runs(RunQuery(**query))}  # type: ignore[arg-type]

        assert found() == set(ids.values())
        assert found(kind="finetune") == {ids["ft"]}
        assert found(status="stopped") == {ids["base"]}
        assert found(task="rte") == {ids["lr"], ids["ft"]}
        assert found(model="BERT") == {ids["base"]}
        assert found(tags=("a",)) == {ids["lr"], ids["base"]}
        assert found(tags=("a", "b")) == {ids["lr"]}
        assert found(starred=True) == {ids["ft"]}
        assert found(text="sweep", tags=("a",)) == {ids["lr"]}
        assert found(since=time.time() + 60) == set()
        assert found(until=time.time() + 60) == set(ids.values())


def test_bad_tags_names_and_runs_are_refused(store: RunStore, run_id: str) -> None:
    with pytest.raises(ValueError, match="not a tag"):
        store.tag(run_id, ["two words"])
    with pytest.raises(ValueError, match="empty"):
        store.rename(run_id, "  ")
    with pytest.raises(UnknownRun):
        store.tag("20990101-000000-beef", ["x"])
    assert store.get_run(run_id).tags == ()


def test_the_fts_query_quotes_every_word() -> None:
    assert fts_query('lr "x') == '"lr"* """x"*'
    assert fts_query("  ") == ""


def _manifest(seed: int) -> Manifest:
    return Manifest(
        "0.1.0", "3.11.9", {"torch": "2.5.1"}, "Linux", "cpu (no precision)", seed,
        {"tasks": ["rte"], "seed": seed}, {"rte": TaskData("local", "sha1:abc")},
        git_commit="f00", git_dirty=True,
    )  # fmt: skip


def test_one_manifest_per_session(store: RunStore, run_id: str) -> None:
    store.set_status(run_id, "running")
    store.add_manifest(run_id, _manifest(1))
    store.add_manifest(run_id, _manifest(1))  # again in the same session: replaced
    store.set_status(run_id, "stopped")
    time.sleep(0.01)
    store.set_status(run_id, "running")  # a resume: a new session
    store.add_manifest(run_id, _manifest(2))
    assert [m.seed for m in store.manifests(run_id)] == [1, 2]
    rows = dict(store.manifests(run_id)[0].rows())
    assert rows["git commit"] == "f00 (with uncommitted changes)"
    assert rows["data: rte"] == "local sha1:abc"
    store.set_status(run_id, "finished")
    store.delete_run(run_id)
    assert store.manifests(run_id) == []


def _as_schema_8(db_path: Path) -> None:
    """Take the store back to what schema 8 had: no notes/starred, tags, search, manifests."""
    conn = sqlite3.connect(db_path)
    for table in ("run_search_fts", "run_search", "tags", "manifests"):
        conn.execute(f"DROP TABLE {table}")
    for trigger in ("run_search_ai", "run_search_ad", "run_search_au"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.execute("ALTER TABLE runs DROP COLUMN notes")
    conn.execute("ALTER TABLE runs DROP COLUMN starred")
    conn.execute("PRAGMA user_version=8")
    conn.commit()
    conn.close()


def test_a_store_of_schema_8_opens_and_is_migrated_with_its_runs_indexed(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RunStore(db_path) as store:
        ids = _three(store)
    _as_schema_8(db_path)
    with monkeypatch.context() as patch:  # read-only: not migrated, still read and searched
        patch.setattr(store_runs, "_read_only", lambda _path: True)
        with RunStore(db_path) as store:
            assert store.readonly and store.get_run(ids["lr"]).tags == ()
            assert store.search_ids("swe") == {ids["lr"]} and store.manifests(ids["lr"]) == []
    with RunStore(db_path) as store:  # migrated on open: the old runs are in the index
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.search_ids("sweep") == {ids["lr"]}
        assert store.search_ids("temperature") == {ids["lr"]}
        store.tag(ids["base"], ["old"])
        store.set_notes(ids["base"], "kept")
    with RunStore(db_path) as store:
        assert store.search_ids("old kept") == {ids["base"]}
