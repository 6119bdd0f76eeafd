"""The package installs as a package: a wheel built from the checkout holds every module, the
task catalog and the resources, and both entry points work from a fresh virtual environment."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__", "docs", "bench")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built offline, from a copy so the checkout gets no build/ or egg-info."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "-q", "-w", str(work), str(source)], check=True, capture_output=True)
    (built,) = work.glob("muppet_studio-*.whl")
    return built


def test_the_wheel_holds_modules_tasks_resources_and_entry_points(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "studio").rglob("*.py")}
    assert modules <= names
    tasks = {f"studio/tasks/{p.name}" for p in (ROOT / "tasks").glob("*.yaml")}
    assert len(tasks) > 40 and tasks <= names
    icons = {f"studio/resources/icons/{p.name}" for p in (ROOT / "resources" / "icons").iterdir()}
    assert {"studio/resources/settings_help.yaml", *icons} <= names
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[gui_scripts]\nmuppet-studio = studio.app:main" in text
    assert "[console_scripts]\nmuppet-studio-cli = studio.cli.commands:main" in text
    assert not any(n.startswith(("tests/", "bench/", "docs/")) for n in names)


def test_a_fresh_venv_runs_both_entry_points(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(wheel)], check=True, capture_output=True)
    # The dependencies come from this environment; the studio itself only from the wheel.
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    deps = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    Path(target, "dependencies.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(STUDIO_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen")
    run = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 300}

    where = subprocess.run([str(python), "-c", "import studio; print(studio.__file__)"], **run)
    assert where.stdout.startswith(str(venv)), where
    listed = subprocess.run([str(venv / "bin" / "muppet-studio-cli"), "tasks", "--json"], **run)
    assert listed.returncode == 0, listed.stderr
    tasks = {t["name"]: t for t in json.loads(listed.stdout)}
    assert tasks["rte"]["origin"] == "builtin" and "synth_sentiment" in tasks
    shot = tmp_path / "window.png"
    window = subprocess.run([str(venv / "bin" / "muppet-studio"), "--screenshot", str(shot)], **run)
    assert window.returncode == 0, window.stderr
    assert shot.stat().st_size > 10_000  # a drawn window, icons and all
