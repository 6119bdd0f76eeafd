"""Time from launching the studio to its window being visible, against the floor: a bare
PySide6 window with one pyqtgraph plot, launched the same way on the same display.

Every timed studio launch is a first launch: a new, empty STUDIO_HOME (no store, no synthetic
data yet), with Python's bytecode cached as after installing. Launches alternate (floor,
studio, floor, ...) so a busy moment hits both. Target: the studio's median within 1.5x the
floor's, on `offscreen` and on `xcb` under a real X server (an Xvfb is started when no DISPLAY
is set), with torch, transformers, datasets, pandas and pyarrow not imported before the window
shows.

The "+ Monitor" columns time a launch that also opens the Monitor tab at once: the Monitor
(and pyqtgraph, which the floor imports) is built when first opened, so this is what a first
click on it costs.

Usage: python -m bench.gui_startup [--repeat 3] [--platforms offscreen,xcb]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

SHOWN = """
def shown_at(window, show, then=None):
    show(window)
    QApplication.processEvents()
    heavy = ("torch", "transformers", "datasets", "pandas", "pyarrow")
    heavy = sorted(m for m in heavy if m in sys.modules)
    if then is not None:
        then(window)
        QApplication.processEvents()
    print(json.dumps({"t": time.time(), "heavy": heavy}))
    QTimer.singleShot(0, QApplication.instance().quit)
"""
STUDIO = f"""
import json, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import studio.app as app_module
from studio.ui import main_window
{SHOWN}
then = (lambda window: window.show_tab(window.monitor)) if "--monitor" in sys.argv else None
original = main_window.MainWindow.show
main_window.MainWindow.show = lambda self: shown_at(self, original, then)
app_module.main([])
"""
FLOOR = f"""
import json, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
import pyqtgraph as pg
{SHOWN}
app = QApplication([])
window = QMainWindow()
window.setCentralWidget(pg.PlotWidget())
shown_at(window, QMainWindow.show)
app.exec()
"""
TARGET = 1.5


def launch(code: str, env: dict[str, str], *args: str) -> tuple[float, float, list[str]]:
    """Seconds from starting a Python process to its window showing, the CPU seconds the
    process used in all (less sensitive to a busy machine), and the heavy modules."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    command = [sys.executable, "-c", code, *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"a launch failed:\n{done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["t"] - start, cpu, result["heavy"]


@contextlib.contextmanager
def display(platform: str) -> Iterator[dict[str, str]]:
    """The environment for `platform`; for xcb without a DISPLAY, an Xvfb of 1600x1000."""
    # Bytecode is cached as for an installed studio (pip compiles a wheel's modules): a
    # PYTHONDONTWRITEBYTECODE left in the shell would time compiling ~130 modules per launch.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["QT_QPA_PLATFORM"] = platform
    if platform != "xcb" or os.environ.get("DISPLAY"):
        yield env
        return
    if not shutil.which("Xvfb"):
        raise SystemExit("xcb needs a DISPLAY or Xvfb (apt-get install xvfb)")
    server = subprocess.Popen(["Xvfb", ":97", "-screen", "0", "1600x1000x24"],
                              stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(1.0)
    try:
        yield {**env, "DISPLAY": ":97"}
    finally:
        server.terminate()
        server.wait()


def measure(platform: str, repeat: int) -> dict[str, float]:
    """Medians of the floor, the studio, and the studio with its Monitor opened at once (the
    Monitor and its plotting library are built on first use: what a first click costs)."""
    runs: dict[str, list[tuple[float, float]]] = {"floor": [], "studio": [], "monitor": []}
    with display(platform) as env:
        launch(FLOOR, env)  # first launches warm the disk and bytecode caches for both
        launch(STUDIO, {**env, "STUDIO_HOME": tempfile.mkdtemp()})
        for _ in range(repeat):
            runs["floor"].append(launch(FLOOR, env)[:2])
            for kind, args in (("studio", ()), ("monitor", ("--monitor",))):
                home = {**env, "STUDIO_HOME": tempfile.mkdtemp()}
                seconds, cpu, heavy = launch(STUDIO, home, *args)
                if heavy:
                    raise SystemExit(f"heavy modules imported before the window: {heavy}")
                runs[kind].append((seconds, cpu))
    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    return {
        "floor_s": wall["floor"], "studio_s": wall["studio"], "monitor_s": wall["monitor"],
        "ratio": wall["studio"] / wall["floor"], "cpu_ratio": cpu["studio"] / cpu["floor"],
        "monitor_ratio": wall["monitor"] / wall["floor"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--platforms", default="offscreen,xcb")
    args = parser.parse_args()
    print(f"{'platform':<10} {'floor s':>8} {'studio s':>9} {'ratio':>6} {'CPU ratio':>10}"
          f"  (target <= {TARGET})   {'+ Monitor s':>11} {'ratio':>6}")  # fmt: skip
    for platform in args.platforms.split(","):
        row = measure(platform, args.repeat)
        verdict = "ok  " if row["ratio"] <= TARGET else "SLOW"
        print(f"{platform:<10} {row['floor_s']:>8.2f} {row['studio_s']:>9.2f} "
              f"{row['ratio']:>6.2f} {row['cpu_ratio']:>10.2f}  {verdict}"
              f"{row['monitor_s']:>29.2f} {row['monitor_ratio']:>6.2f}")  # fmt: skip
    print("torch / transformers / datasets / pandas / pyarrow imported before the window: none")


if __name__ == "__main__":
    main()
