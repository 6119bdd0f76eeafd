"""Is a process of this machine still alive? (Runs whose process died, staging left behind.)"""

from __future__ import annotations

import ctypes
import os
import sys

_STILL_ACTIVE = 259
_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_ERROR_ACCESS_DENIED = 5
_STARTTIME_FIELD = 22  # /proc/<pid>/stat, counted from 1: clock ticks after boot


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists on this machine."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        # Signal 0 delivers nothing; it only asks the kernel whether the process exists.
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, but belongs to another user
    except OSError:
        return False
    return True


def _windows_pid_alive(pid: int) -> bool:
    # On Windows os.kill(pid, 0) would *terminate* the process, so ask the kernel instead.
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]  # Windows only
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return bool(kernel32.GetLastError() == _ERROR_ACCESS_DENIED)
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True  # cannot tell: do not declare a possibly live run dead
        return code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def process_started(pid: int) -> float | None:
    """When the process `pid` started, in seconds since the epoch; None where the platform
    does not say (only Linux does here) or no such process exists.

    A pid is reused once its process is gone: a process that started after a run began
    cannot be the one that trains it. Precise to about a second (the boot time is in whole
    seconds).
    """
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii", errors="replace") as stat:
            # The command name (field 2) may hold spaces and parentheses: split after it.
            fields = stat.read().rpartition(")")[2].split()
        ticks = int(fields[_STARTTIME_FIELD - 3])
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            if line.startswith("btime "):
                return float(line.split()[1])
    raise ValueError("/proc/stat has no btime line")
