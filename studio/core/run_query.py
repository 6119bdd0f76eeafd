"""Which runs to list: a free-text search (the store's full-text index answers it) and filters
by kind, status, task, base model, date, tags and star. Pure Python: the store, the commands and
the Runs tab apply the same rules."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from studio.core.run_record import Run, run_tasks
from studio.core.segments import first_start

# A tag is one word a user can type again: letters, digits and - _ . / : (no spaces, no +/-
# in front, which `runs tag RUN +a -b` reads as add and remove).
_TAG = re.compile(r"^[\w.:/][\w.:/-]{0,63}$")


@dataclass(frozen=True)
class RunQuery:
    """What a list of runs is narrowed to; an empty query keeps every run."""

    text: str = ""  # words that must all appear (as word prefixes) in name, notes, tags, config
    kind: str | None = None
    status: str | None = None
    task: str | None = None  # a task the run trained, fine-tuned or transferred to
    model: str | None = None  # part of the base model's name or path, any case
    since: float | None = None  # first started (or created) at or after
    until: float | None = None  # ... and before
    tags: tuple[str, ...] = ()  # every one of them
    starred: bool = False


def check_tag(tag: str) -> str:
    """The tag, or ValueError saying what a tag may hold."""
    if not _TAG.match(tag):
        raise ValueError(
            f"{tag!r} is not a tag: use one word of letters, digits and - _ . / : (at most 64)"
        )
    return tag


def run_time(run: Run) -> float:
    """The time a date filter looks at: the run's first start, else its creation."""
    return first_start(run) or run.created


def matches(run: Run, query: RunQuery, found: Collection[str] | None = None) -> bool:
    """Whether `run` passes the query's filters; `found`: the ids the text search matched
    (None: no text to search)."""
    if found is not None and run.id not in found:
        return False
    if query.kind and run.kind != query.kind:
        return False
    if query.status and run.status != query.status:
        return False
    if query.task and query.task not in run_tasks(dict(run.config)):
        return False
    if query.model and query.model.lower() not in run.base_model.lower():
        return False
    when = run_time(run)
    if (query.since is not None and when < query.since) or (
        query.until is not None and when >= query.until
    ):
        return False
    if query.starred and not run.starred:
        return False
    return all(tag in run.tags for tag in query.tags)


def fts_query(text: str) -> str:
    """An FTS5 query from what a user typed: every word must appear, as the start of a word
    ("swe" finds "sweep"), and no character is FTS syntax."""
    words = text.split()
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


def config_text(config: Mapping[str, Any]) -> str:
    """The values of a config as words for the search index (keys left out: every run has
    them): "rte sst2 temperature 0.0001 ..."."""
    words: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for inner in value.values():
                walk(inner)
        elif isinstance(value, (list, tuple)):
            for inner in value:
                walk(inner)
        elif value is not None and value != "":
            words.append(str(value))

    walk(config)
    return " ".join(words)


def text_matches(haystack: str, text: str) -> bool:
    """The search without an index (a store too old to have one, opened read-only): every
    word a prefix of a word of `haystack`, any case."""
    tokens = re.findall(r"\w+", haystack.lower())
    return all(
        any(token.startswith(part) for token in tokens)
        for word in text.lower().split()
        for part in re.findall(r"\w+", word)
    )
