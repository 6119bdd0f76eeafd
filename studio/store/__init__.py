"""The SQLite run store."""

from studio.store.runs import RunStore, StoreError, UnknownRun
from studio.store.sink import StoreSink

__all__ = ["RunStore", "StoreError", "StoreSink", "UnknownRun"]
