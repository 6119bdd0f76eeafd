"""The Runs tab: the table, config diff, take-away exports, and the run queue."""
