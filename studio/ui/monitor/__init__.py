"""The Monitor tab: its view, the data it keeps per run and task, the progress line and the
resource strip."""
