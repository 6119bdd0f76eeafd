"""sqlite-utils, imported when first needed and without pandas.

`sqlite_utils.db` imports pandas (and so pyarrow) whenever it is installed, which `datasets`
makes sure of, only to store `pandas.Timestamp` values as text. The store never writes pandas
objects, and the window must open fast (0.4 s of its 0.8 s of imports were pandas), so pandas
is hidden while sqlite-utils loads unless something already imported it. Even so, importing
sqlite-utils (click, pluggy's plugin scan, dateutil) takes 65 ms the window need not spend
before it shows: opening a store whose schema is current takes only sqlite3.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

_lock = threading.Lock()  # a store opened on two threads at once hides pandas once


def database(conn: sqlite3.Connection) -> sqlite_utils.Database:
    """sqlite-utils' view of `conn`."""
    with _lock:
        if "sqlite_utils" not in sys.modules and "pandas" not in sys.modules:
            sys.modules["pandas"] = None  # type: ignore[assignment]  # import_module raises ImportError
            try:
                import sqlite_utils  # noqa: F401 - imported here with pandas hidden
            finally:
                del sys.modules["pandas"]
    import sqlite_utils

    return sqlite_utils.Database(conn)
