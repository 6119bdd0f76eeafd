"""The Transfer tab: the view, its table and plots, the target picker and help."""
