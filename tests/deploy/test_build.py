"""The build outlives its deprecations (issue #24 item 6): the license is an SPDX expression (PEP 639),
the build requirements are bounded, and building the package prints no deprecation warning, so a fresh
machine after setuptools' deadline (2027-02-18 for the table form of ``project.license``) still builds it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_license_is_an_spdx_expression_and_build_requirements_are_bounded() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)  # not the deprecated {text = ...} table
    for requirement in project["build-system"]["requires"]:
        assert re.search(r"<\s*\d", requirement), f"unbounded build requirement: {requirement}"


def test_building_the_package_prints_no_deprecation_warning(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout + done.stderr
    deprecations = [line for line in out.splitlines() if re.search(r"deprecat", line, re.IGNORECASE)]
    assert deprecations == [], deprecations[:5]
    wheel = next(tmp_path.glob("pa_worker-*.whl"))
    metadata = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import zipfile,sys; z=zipfile.ZipFile({str(wheel)!r}); "
            "print(z.read([n for n in z.namelist() if n.endswith('METADATA')][0]).decode())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "License-Expression: LicenseRef-Proprietary" in metadata
