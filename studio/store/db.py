"""sqlite-utils without pandas.

`sqlite_utils.db` imports pandas (and so pyarrow) whenever it is installed, which `datasets`
makes sure of, only to store `pandas.Timestamp` values as text. The store never writes pandas
objects, and the window must open fast (0.4 s of its 0.8 s of imports were pandas), so pandas
is hidden while sqlite-utils loads unless something already imported it.
"""

from __future__ import annotations

import sys

if "pandas" in sys.modules:
    import sqlite_utils
else:
    sys.modules["pandas"] = None  # type: ignore[assignment]  # import_module raises ImportError
    try:
        import sqlite_utils
    finally:
        del sys.modules["pandas"]

__all__ = ["sqlite_utils"]
