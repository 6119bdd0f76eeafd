"""UI test set-up: Qt renders offscreen, so the tests run headless."""

from __future__ import annotations

import os

# Before any Qt import: pytest-qt creates the QApplication with whatever platform is set here.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
