"""A store's -wal and -shm files stay while a process has the store open, even after that
process closed some other descriptor of the store file (as Qt's file dialogs do when they
list the store's folder), so other processes never delete them under it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from studio.store import RunStore, keeper

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="open-file-description locks are Linux's"
)

_WRITE_AND_CLOSE = (
    "import sys; from studio.store import RunStore\n"
    "with RunStore(sys.argv[1]) as s: s.create_run('other', 'pretrain', {}, 'm')\n"
)


def _another_process_writes(path: Path) -> None:
    subprocess.run([sys.executable, "-c", _WRITE_AND_CLOSE, str(path)], check=True)


def _side_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f"{path.name}-"))


def test_closing_a_descriptor_of_the_store_does_not_let_others_delete_its_wal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "studio.db"
    with RunStore(path) as window:
        window.create_run("mine", "pretrain", {}, "m")
        assert keeper.held(path)
        open(path, "rb").close()  # a file dialog sniffing the store's type drops our locks
        _another_process_writes(path)
        assert _side_files(path) == ["studio.db-shm", "studio.db-wal"]
        _another_process_writes(path)  # writes through the index the window maps
        assert sorted(r.name for r in window.list_runs()) == ["mine", "other", "other"]
        assert window.integrity_check() == "ok"
    assert not keeper.held(path)
    _another_process_writes(path)  # now really the last connection: it tidies up
    assert _side_files(path) == []
    with RunStore(path) as again:
        assert len(again.list_runs()) == 4


def test_the_last_store_of_this_process_gives_the_wal_back(tmp_path: Path) -> None:
    path = tmp_path / "studio.db"
    first, second = RunStore(path), RunStore(path)
    first.close()
    assert keeper.held(path)  # the second still has it open
    second.close()
    assert not keeper.held(path) and _side_files(path) == []  # checkpointed and removed
