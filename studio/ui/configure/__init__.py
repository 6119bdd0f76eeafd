"""The Configure tab: the settings form built from the declarations, presets, the task checklist
and weights."""
