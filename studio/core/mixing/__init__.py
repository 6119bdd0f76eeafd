"""How tasks are mixed: sampling shares, loss scales, and the run's task plan (plan.py)."""
