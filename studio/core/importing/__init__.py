"""Turning the user's data into a task, the pure part: the import plan, column guessing, label
mapping, previews."""
