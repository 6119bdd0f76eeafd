"""Experiments over runs: transfer and sweep configs (transfer.py), the paired verdict, ablation
files and their results."""
