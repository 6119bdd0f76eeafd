"""The command line: `muppet-studio-cli` (commands.py), its `task` commands (tasks.py) and exports
(exports.py)."""
