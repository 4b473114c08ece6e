"""Installing the package: metadata as packaging tools expect it, no setuptools warnings."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_builds_without_license_deprecation_warnings(tmp_path: Path) -> None:
    """``project.license`` is an SPDX expression: setuptools warned about the table form
    three times on every install."""
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".demo", ".bench", ".git", ".browser-screenshots", "build", "*.egg-info"
        ),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    log = built.stdout + built.stderr
    assert "SetuptoolsDeprecationWarning" not in log
    assert "project.license" not in log
    (wheel,) = tmp_path.glob("airflow_provider_copernica-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
