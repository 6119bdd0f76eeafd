"""Files the studio writes where a user points it (reports, metric tables): never over the
studio's own files, never over an existing file unless asked, and never half-written."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from studio.core import paths
from studio.core.errors import StudioError

# SQLite's companions of a store file: replacing any of them loses or corrupts runs.
STORE_SIDECARS = ("", "-wal", "-shm", "-journal")
# How writers that raise no OSError say the disk is full: safetensors' Rust I/O error ("No space
# left on device (os error 28)"), Windows' wording, a quota.
DISK_FULL_WORDS = (
    "no space left on device",
    "os error 28",
    "not enough space on the disk",
    "disk quota exceeded",
)
_DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# Less than this free after a failed write: the write filled the disk. torch.save says only
# "[enforce fail at inline_container.cc] unexpected pos", with no errno to go by.
NEARLY_FULL = 1 << 20


class OutputRefused(StudioError):
    """The file named for an output may not be written; the message says why."""


class OutputExists(OutputRefused):
    """The output file exists and replacing it was not asked for."""


class DiskFull(StudioError):
    """A write needs more room than the disk has; the message names the disk, what is free
    and about what was needed."""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def protected(store_path: Path) -> list[tuple[Path, str]]:
    """The studio's own files and folders, with how a message names them."""
    found: list[tuple[Path, str]] = []
    for store in dict.fromkeys([Path(store_path), paths.store_path()]):
        found += [(Path(f"{store}{suffix}"), "the run store") for suffix in STORE_SIDECARS]
        found.append((store.parent / paths.RUNS, "the runs folder (checkpoints and exports)"))
    found.append((paths.user_tasks_dir(), "your task library"))
    found.append((paths.library_data_dir(), "your task library's records"))
    return [(p.resolve(), what) for p, what in found]


def check_output(out: Path, store_path: Path, force: bool = False) -> Path:
    """`out` if a report or table may be written there; OutputRefused naming the reason."""
    out = Path(out)
    if out.is_dir():
        raise OutputRefused(f"{out} is a folder; give the file to write")
    target = out.resolve()  # a link or '..' must not lead into the studio's files
    for place, what in protected(store_path):
        if _inside(target, place):
            raise OutputRefused(f"{out} is part of {what} ({place}); choose a file elsewhere")
    if out.exists() and not force:
        raise OutputExists(f"{out} exists; choose another file, or replace it (--force)")
    return out


def write_atomically(out: Path, write: Callable[[Path], object]) -> None:
    """`write(temporary)` beside `out`, then a rename over it: `out` is either the old file or
    the whole new one, even if the disk fills or the process is killed half-way."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        write(temporary)
        os.replace(temporary, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StudioError(f"{out}: cannot write: {describe_os_error(exc, out.parent)}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def describe_os_error(exc: OSError, folder: Path) -> str:
    """An OSError in words; a full disk says so, with what is free there."""
    if exc.errno in _DISK_FULL_ERRNOS:
        return disk_full_message(folder)
    return exc.strerror or str(exc)


def disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether `exc`, raised while writing into `folder`, means its disk is full, however the
    writer says so: an errno (an OSError, also as a cause), the words of a library's own error
    (safetensors' SafetensorError is no OSError), or a write error with (almost) nothing left
    free. Call it before removing what the failed write left: that is what filled the disk."""
    link: BaseException | None = exc
    for _ in range(10):  # a chain of causes; never a cycle's endless walk
        if link is None:
            break
        if isinstance(link, OSError) and link.errno in _DISK_FULL_ERRNOS:
            return True
        if any(words in str(link).lower() for words in DISK_FULL_WORDS):
            return True
        link = link.__cause__ or link.__context__
    unexplained = isinstance(exc, RuntimeError) or (isinstance(exc, OSError) and not exc.errno)
    if not unexplained:
        return False  # a bug, a bad value or another errno, whatever the disk holds
    free = free_bytes(folder)
    return free is not None and free < NEARLY_FULL


def disk_full_message(folder: Path, needed: int | None = None, what: str = "it") -> str:
    """That the disk holding `folder` is full, what is free there and, when known, about how
    much `what` needs: the cause a user can act on, instead of a library's words."""
    need = f"; {what} needs about {human_bytes(needed)}" if needed else ""
    return f"the disk holding {folder} is full ({free_space(folder)} free{need})"


def free_bytes(folder: Path) -> int | None:
    """Bytes free on the disk that holds `folder` (or its nearest existing parent); None when
    the system cannot say."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def free_space(folder: Path) -> str:
    """Free space of the disk that holds `folder` (or its nearest existing parent), in words."""
    free = free_bytes(folder)
    return "unknown" if free is None else human_bytes(free)


def human_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(count) < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")
