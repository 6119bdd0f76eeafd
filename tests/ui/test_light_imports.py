"""The window starts without the heavy libraries: they load only in the job processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("torch", "transformers", "datasets", "accelerate", "sklearn")
SCRIPT = """
import importlib, json, pkgutil, sys
import studio.app, studio.ui
for module in pkgutil.iter_modules(studio.ui.__path__, "studio.ui."):
    importlib.import_module(module.name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


def test_importing_every_window_module_loads_no_heavy_library() -> None:
    # A fresh interpreter: this one has long imported torch for other tests.
    said = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=set(HEAVY))],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout.strip().splitlines()[-1]) == []
