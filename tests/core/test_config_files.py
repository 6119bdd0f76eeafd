"""Reading run configs, ablation files and transfer or sweep configs: a file that is not UTF-8,
or cannot be read, is a ConfigError naming the file (and the byte at fault), not a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.core.config.run import load_config
from studio.core.errors import ConfigError
from studio.core.experiments.ablation import load_ablation
from studio.core.experiments.transfer import export_mix, load_yaml, transfer_config

LATIN = "tasks: [rte]\nname: caf\xe9\n".encode("latin-1")  # \xe9 at byte 22


def _transfer(path: Path) -> Any:
    return transfer_config(load_yaml(path), str(path))


@pytest.mark.parametrize("read", [load_config, load_ablation, load_yaml, _transfer])
def test_a_file_that_is_not_utf8_is_named_with_the_byte(
    tmp_path: Path, read: Callable[[Path], Any]
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_bytes(LATIN)
    with pytest.raises(ConfigError) as info:
        read(path)
    assert str(info.value).startswith(f"{path}: not UTF-8 text")
    assert "at byte 22" in str(info.value)


@pytest.mark.parametrize("read", [load_config, load_ablation, load_yaml])
def test_a_file_that_cannot_be_read_is_named(tmp_path: Path, read: Callable[[Path], Any]) -> None:
    folder = tmp_path / "a folder.yaml"
    folder.mkdir()
    with pytest.raises(ConfigError, match="cannot read") as info:
        read(folder)
    assert str(folder) in str(info.value)


def test_an_ablation_base_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_bytes(LATIN)
    ablation = tmp_path / "ablation.yaml"
    ablation.write_text("base: base.yaml\nvary:\n  seed: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"base\.yaml: not UTF-8 text .*at byte 22"):
        load_ablation(ablation)


def test_an_export_whose_config_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "heads.json").write_text("{}", encoding="utf-8")
    (tmp_path / "studio_config.yaml").write_bytes(LATIN)
    with pytest.raises(ConfigError, match="studio_config.yaml: cannot read the pre-finetuning"):
        export_mix(tmp_path)
