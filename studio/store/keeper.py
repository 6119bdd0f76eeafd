"""A store's -wal and -shm files stay while this process has the store open, whatever else
the process opens and closes.

SQLite deletes them when the last connection to the store closes, and takes itself for the
last when it can lock the store file exclusively. Its locks are POSIX record locks, which
belong to the process: closing *any* descriptor of the file in the process drops them all.
The window's file dialogs do just that: listing the store's folder (Open store, Export),
Qt opens every file to sniff its type and closes it again. The window's locks were gone, the
next process to close its last connection deleted the -wal and -shm files the window still
had open and mapped, and the window went on reading new WAL frames through its stale index:
"database disk image is malformed" on a healthy store.

A keeper holds a lock on the bytes of SQLite's shared lock (and on the -shm's dead-man
byte, which decides whether the index is rebuilt) through an open-file-description lock
(Linux F_OFD_SETLK) on a descriptor of its own. Such a lock belongs to that descriptor, not
to the process, so closing other descriptors never drops it, and while it is held no other
process can take the exclusive lock: none deletes or rebuilds the files. It is held while
any RunStore of the process has the file open and given back just before the last one
closes, so that a connection that is really the last still checkpoints and tidies up. The
descriptors stay open for the life of the process: closing one would drop the POSIX locks
of the process's other connections to the file. Elsewhere (no OFD locks) it does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_OFD_SETLK: int | None = getattr(fcntl, "F_OFD_SETLK", None) if fcntl is not None else None
# struct flock on 64-bit Linux: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks).
_FLOCK = "@hhqqi4x"
_USABLE = _OFD_SETLK is not None and sys.platform.startswith("linux") and sys.maxsize > 2**32
# SQLite's lock bytes (os_unix.c): the shared lock's range in the store file, and the
# dead-man switch in the -shm file.
_PENDING_BYTE = 0x40000000
_SHARED_FIRST, _SHARED_SIZE = _PENDING_BYTE + 2, 510
_SHM_DMS = 128
_TRIES = 20  # a closing process may hold the exclusive lock for a moment


@dataclass
class _Kept:
    store: int  # descriptors, open for the life of the process
    shm: int | None
    holders: int = 0


_KEPT: dict[tuple[int, int], _Kept] = {}  # (device, inode) of the store file
_LOCK = threading.Lock()


def hold(path: Path) -> tuple[int, int] | None:
    """Keep the WAL files of the store at `path` (open in WAL mode by the caller) while the
    caller has it open; returns the key for `release`, None where nothing is held."""
    if not _USABLE:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (stat.st_dev, stat.st_ino)
    with _LOCK:
        kept = _KEPT.get(key)
        if kept is None:
            try:
                kept = _KEPT[key] = _Kept(os.open(path, os.O_RDONLY | os.O_CLOEXEC), None)
            except OSError as exc:
                log.debug("cannot keep the WAL files of %s: %s", path, exc)
                return None
        if kept.holders == 0 and not _lock(kept, Path(f"{path}-shm")):
            return None
        kept.holders += 1
    return key


def release(key: tuple[int, int] | None) -> None:
    """One holder less; the last gives the locks back (call it before closing the
    connection, so that a connection that is the last one anywhere cleans up)."""
    if key is None:
        return
    with _LOCK:
        kept = _KEPT.get(key)
        if kept is None or kept.holders == 0:
            return
        kept.holders -= 1
        if kept.holders == 0:
            _set(kept.store, fcntl.F_UNLCK, _SHARED_FIRST, _SHARED_SIZE)
            if kept.shm is not None:
                _set(kept.shm, fcntl.F_UNLCK, _SHM_DMS, 1)


def _lock(kept: _Kept, shm: Path) -> bool:
    """Take the read locks (the -shm one when the file is there)."""
    kept.shm = _current_shm(kept.shm, shm)
    for _ in range(_TRIES):
        if _set(kept.store, fcntl.F_RDLCK, _SHARED_FIRST, _SHARED_SIZE):
            if kept.shm is not None:
                _set(kept.shm, fcntl.F_RDLCK, _SHM_DMS, 1)
            return True
        time.sleep(0.01)
    log.debug("the store is locked exclusively; its WAL files are not kept")
    return False


def _current_shm(fd: int | None, shm: Path) -> int | None:
    """A descriptor of the -shm file as it is now (a new one replaced a deleted one)."""
    try:
        now = os.stat(shm)
    except OSError:
        return fd
    if fd is not None:
        old = os.fstat(fd)
        if (old.st_dev, old.st_ino) == (now.st_dev, now.st_ino):
            return fd
        os.close(fd)  # another file: this process holds no lock of SQLite's on it
    try:
        return os.open(shm, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _set(fd: int, kind: int, start: int, length: int) -> bool:
    assert _OFD_SETLK is not None
    try:
        fcntl.fcntl(fd, _OFD_SETLK, struct.pack(_FLOCK, kind, os.SEEK_SET, start, length, 0))
    except OSError:
        return False
    return True


def held(path: Path) -> bool:
    """Whether this process keeps the WAL files of `path` now (for tests)."""
    with contextlib.suppress(OSError), _LOCK:
        stat = os.stat(path)
        kept = _KEPT.get((stat.st_dev, stat.st_ino))
        return kept is not None and kept.holders > 0
    return False
