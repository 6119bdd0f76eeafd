"""Time from launching the studio to its window being visible; checks no heavy import happened.

Every launch is a first launch: a new, empty STUDIO_HOME (no store, no synthetic data yet).
Target: visible within 1.5 s, with torch, transformers, datasets, pandas and pyarrow not
imported before it.
Usage: python -m bench.gui_startup [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROBE = """
import json, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import studio.app as app_module
from studio.ui import main_window

shown = {}
original_show = main_window.MainWindow.show

def show(self):
    original_show(self)
    QApplication.processEvents()
    shown["t"] = time.time()
    heavy = ("torch", "transformers", "datasets", "pandas", "pyarrow")
    shown["heavy"] = sorted(m for m in heavy if m in sys.modules)
    QTimer.singleShot(0, QApplication.instance().quit)

main_window.MainWindow.show = show
app_module.main([])
print(json.dumps(shown))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    times = []
    for _ in range(args.repeat):
        env["STUDIO_HOME"] = tempfile.mkdtemp()  # cold: the first launch on this machine
        start = time.time()
        out = (
            subprocess.run(
                [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = json.loads(out)
        times.append(result["t"] - start)
        if result["heavy"]:
            raise SystemExit(f"heavy modules imported before the window: {result['heavy']}")
    print(
        f"window visible after launch: median {statistics.median(times):.2f} s, "
        f"max {max(times):.2f} s over {args.repeat} cold launches (target <= 1.5 s)"
    )
    print("torch / transformers / datasets / pandas / pyarrow imported before the window: none")


if __name__ == "__main__":
    main()
