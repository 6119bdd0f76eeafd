"""A run's settings: the RunConfig (run.py), how settings are declared (settings.py), presets and
base models."""
