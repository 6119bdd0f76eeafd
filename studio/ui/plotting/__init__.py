"""Plot building blocks shared by the tabs: panels and curves, series buffers, export to files."""
