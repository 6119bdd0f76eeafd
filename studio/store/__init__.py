"""The SQLite run store."""

from studio.store.runs import ReadOnlyStore, RunBusy, RunStore, StoreError, UnknownRun
from studio.store.sink import StoreSink

__all__ = ["ReadOnlyStore", "RunBusy", "RunStore", "StoreError", "StoreSink", "UnknownRun"]
