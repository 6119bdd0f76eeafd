"""What a newcomer hit: a long error must never push the window past the screen, and a fresh
STUDIO_HOME opens fresh (the window's state lives in the home, not in the user's settings)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSize

from studio.core import paths
from studio.core.config import presets
from studio.core.config.run import RunConfig
from studio.core.run_record import Run
from studio.ui.main_window import WINDOW_FILE, MainWindow, first_size, window_settings

SCREEN = 1600
ERROR = "OSError: " + "we-could-not-connect-to-the-hub/" * 60  # one long word, as paths are


def test_a_long_error_anywhere_leaves_the_window_inside_the_screen(window: MainWindow) -> None:
    window.resize(1400, 900)
    window.state.message.emit(ERROR)
    window.form.set_device_info(ERROR)
    window.monitor.status.label.setText(ERROR)
    failed = Run(id="r", name="r", kind="pretrain", status="failed", error=ERROR, step=3)
    window.monitor.failure.show_failure(failed, [])
    window.transfer.message.setText(ERROR)
    window.ablation.message.setText(ERROR)
    for tab in range(window.tabs.count()):
        window.tabs.setCurrentIndex(tab)
        assert window.minimumSizeHint().width() <= SCREEN, window.tabs.tabText(tab)
        assert window.width() <= SCREEN
    assert window.status.toolTip() == ERROR  # the whole text stays one hover away


def test_a_fresh_home_opens_on_the_quick_look(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog
) -> None:
    first = tmp_path / "first"
    monkeypatch.setenv("STUDIO_HOME", str(first))
    window = MainWindow(catalog, first / "studio.db")
    qtbot.addWidget(window)
    window.draft.apply(RunConfig(tasks=("synth_topic",), name="mine", max_steps=77))
    window.close()
    assert (first / WINDOW_FILE).is_file()
    again = MainWindow(catalog, first / "studio.db")  # the same home remembers
    qtbot.addWidget(again)
    assert again.form.config(["rte"]).max_steps == 77
    again.close()
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("STUDIO_HOME", str(fresh))
    assert window_settings().fileName() == str(paths.studio_home() / WINDOW_FILE)
    new = MainWindow(catalog, fresh / "studio.db")
    qtbot.addWidget(new)
    assert new.form.preset_bar.current() == presets.QUICK_LOOK
    assert new.form.config(["rte"]).max_steps != 77
    new.close()


def test_a_first_start_takes_most_of_the_screen() -> None:
    assert first_size(QSize(1600, 1000)) == QSize(1536, 920)
    assert first_size(QSize(3840, 2160)) == QSize(1843, 1104)  # not a wall of empty plots
