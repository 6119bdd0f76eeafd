"""A run's HTML report (page.py) and its inline SVG charts."""
