"""The Add-task wizard: the dialog, its pages, the source and column pages."""
