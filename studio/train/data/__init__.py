"""The data path: sources and importer for new tasks, hub datasets, loading and tokenizing into the
cache, previews."""
