"""The SQLite run store."""

from studio.store.runs import NoStore, ReadOnlyStore, RunBusy, RunStore, StoreError, UnknownRun
from studio.store.schema import RESUMABLE
from studio.store.sink import StoreSink

__all__ = [
    "RESUMABLE",
    "NoStore",
    "ReadOnlyStore",
    "RunBusy",
    "RunStore",
    "StoreError",
    "StoreSink",
    "UnknownRun",
]
