"""Package data, installed as `studio.resources`: the Configure tab's help and the icons."""
