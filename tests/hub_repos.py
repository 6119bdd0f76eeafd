"""Small folders laid out like real hub dataset repositories, for the hub path offline.

Three layouts, as the hub has them: a README whose `configs:` name each config's files
(`nyu-mll/glue`), `data/<split>-00000-of-00001.parquet` (one config), and the hub's parquet
export of a loading-script repository, `<config>/<split>/0000.parquet` (`refs/convert/parquet`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

Rows = list[dict[str, Any]]


def _write(path: Path, rows: Rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def configs_repo(root: Path, repo: str, configs: dict[str, dict[str, Rows]]) -> Path:
    """`<config>/<split>-00000-of-00001.parquet` and a README naming them (glue's layout)."""
    folder = root / repo
    cards = []
    for config, splits in configs.items():
        files = []
        for split, rows in splits.items():
            _write(folder / config / f"{split}-00000-of-00001.parquet", rows)
            files.append({"split": split, "path": f"{config}/{split}-*"})
        cards.append({"config_name": config, "data_files": files})
    card = yaml.safe_dump({"configs": cards}, sort_keys=False)
    (folder / "README.md").write_text(f"---\n{card}---\n# {repo}\n", encoding="utf-8")
    return folder


def data_repo(root: Path, repo: str, splits: dict[str, Rows]) -> Path:
    """`data/<split>-00000-of-00001.parquet`: a one-config repository."""
    folder = root / repo
    for split, rows in splits.items():
        _write(folder / "data" / f"{split}-00000-of-00001.parquet", rows)
    return folder


def export_repo(root: Path, repo: str, splits: dict[str, Rows], config: str = "default") -> Path:
    """The hub's parquet export of a script repository: `<config>/<split>/0000.parquet`."""
    folder = root / repo
    for split, rows in splits.items():
        _write(folder / config / split / "0000.parquet", rows)
    return folder


def script_repo(root: Path, repo: str) -> Path:
    """A repository that still holds a loading script (datasets 5 refuses to run it)."""
    folder = root / repo
    folder.mkdir(parents=True, exist_ok=True)
    name = repo.split("/")[-1]
    (folder / f"{name}.py").write_text("import datasets\n", encoding="utf-8")
    return folder


def cache_dataset(cache: Path, repo: str, config: str, splits: dict[str, Rows]) -> None:
    """Prepare a dataset in a `datasets` cache as a download from the hub would have, so it
    loads offline (`<owner>___<name>/<config>/<version>/<hash>/`)."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    staging = cache.parent / f"{cache.name}-build"
    files = {}
    for split, rows in splits.items():
        path = staging / "files" / f"{split}.parquet"
        _write(path, rows)
        files[split] = [str(path)]
    owner, name = repo.split("/")
    builder = Parquet(
        cache_dir=str(staging), dataset_name=name, data_files=files, hash="0", config_name=config
    )
    builder.download_and_prepare()
    target = cache / f"{owner}___{name}" / config / "0.0.0" / "0"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(builder.cache_dir, target)
    shutil.rmtree(staging)
