"""The PySide6 desktop studio (a later issue)."""
