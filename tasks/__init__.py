"""Package data, installed as `studio.tasks`: the built-in task catalog, one YAML per task."""
