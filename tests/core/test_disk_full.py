"""A full disk is recognised however the writer reports it (core.files.disk_full)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from studio.core import files


def test_a_full_disk_is_recognised_by_errno_by_words_or_by_an_empty_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert files.disk_full(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    rust = "Error while serializing: I/O error: No space left on device (os error 28)"
    assert files.disk_full(RuntimeError(rust), tmp_path)  # safetensors: no OSError
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as cause:
            raise ValueError("could not save") from cause
    except ValueError as wrapped:
        assert files.disk_full(wrapped, tmp_path)  # the cause tells
    torch_says = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576")
    assert not files.disk_full(torch_says, tmp_path)  # room left: something else
    monkeypatch.setattr(files, "free_bytes", lambda folder: 0)
    assert files.disk_full(torch_says, tmp_path)  # no errno, but nothing left free
    assert not files.disk_full(KeyError("model.safetensors"), tmp_path)  # a bug stays a bug
    assert not files.disk_full(PermissionError(errno.EACCES, "Permission denied"), tmp_path)
    assert files.disk_full_message(tmp_path, 3 << 20, "a checkpoint") == (
        f"the disk holding {tmp_path} is full (0 bytes free; a checkpoint needs about 3.0 MB)"
    )
