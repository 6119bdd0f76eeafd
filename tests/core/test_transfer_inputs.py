"""Parsing what the Transfer tab is given: sizes, seeds, and an export folder's task mix."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.errors import ConfigError
from studio.core.experiments.transfer import export_mix, parse_seeds, parse_sizes


def test_parsers_read_lists_and_reject_typos() -> None:
    assert parse_sizes("100, 32 all; 32") == (32, 100, "all")
    assert parse_seeds("0 1, 2") == (0, 1, 2)
    for bad in ("32, x", "0", "-5", ""):
        with pytest.raises(ConfigError, match="Sizes"):
            parse_sizes(bad)
    with pytest.raises(ConfigError, match="Seeds: '1.5'"):
        parse_seeds("0, 1.5")


def test_export_mix_reads_the_tasks_and_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an export folder"):
        export_mix(tmp_path)
    (tmp_path / "heads.json").write_text("[]")
    with pytest.raises(ConfigError, match="studio_config.yaml: cannot read"):
        export_mix(tmp_path)
    (tmp_path / "studio_config.yaml").write_text("model: minilm\n")
    with pytest.raises(ConfigError, match="studio_config.yaml: cannot read"):
        export_mix(tmp_path)
    (tmp_path / "studio_config.yaml").write_text("tasks: sst2\n")
    with pytest.raises(ConfigError, match="'tasks' must be a list"):
        export_mix(tmp_path)
    (tmp_path / "studio_config.yaml").write_text("tasks: [sst2, rte]\nmodel: minilm\n")
    assert export_mix(tmp_path) == ["sst2", "rte"]
