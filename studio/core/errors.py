"""Errors a user can cause; each names the file, line, task or key at fault."""

from __future__ import annotations


class StudioError(Exception):
    """Base class for errors reported to the user as a plain message."""


class ConfigError(StudioError):
    """A run config key is unknown or its value is not allowed."""


class TaskSpecError(StudioError):
    """A task file in the catalog is malformed."""


class DataError(StudioError):
    """A data file or record is malformed; the message names the file and line."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.problem = problem


# How a refused resume's message starts (train.checkpoint.DataChanged): the window, which
# only sees the message of a job's error, recognises it by this.
DATA_CHANGED = "the training data changed since the checkpoint"
