"""Tasks: the spec and catalog (spec.py), formats, record checks, the user's library, where data
is, synthetic tasks, metrics."""
