"""The wheel a pip user installs holds the code and the data files it reads at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel of the working tree, built from a copy of its files (setuptools writes build/ beside them)."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(out),
        ".",
    ]
    subprocess.run(command, cwd=source, check=True, capture_output=True)
    return zipfile.ZipFile(next(out.glob("*.whl")))


def test_the_wheel_holds_package_data(wheel):
    names = set(wheel.namelist())
    for needed in (
        "embedder/templates.toml",
        "embedder/adapters/default/adapter_model.safetensors",
        "embedder/adapters/default/embedder.json",
        "trainer/synth/prompts.toml",
        "trainer/configs/default-cpu-distill.toml",
        "ui/app.py",
        "ui/views/search.py",
        "ui/cli.py",
    ):
        assert needed in names, needed
    assert not any(name.startswith(("tests/", "bench/")) for name in names)


def test_the_e5_script_is_the_root_command(wheel):
    entry_points = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))
    assert "e5 = ui.cli:app" in wheel.read(entry_points).decode()
    metadata = wheel.read(next(n for n in wheel.namelist() if n.endswith("METADATA"))).decode()
    for extra in ("ui", "server", "bench", "postgres", "gpu", "deepspeed", "dev"):
        assert f"Provides-Extra: {extra}" in metadata
    assert "Requires-Dist: streamlit" in metadata and 'extra == "ui"' in metadata
