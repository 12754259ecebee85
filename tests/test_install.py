"""A wheel installs anywhere: built from this checkout, installed into a fresh
environment outside it, it renders a report (templates ship as package data).

The wheel is built without build isolation (setuptools and wheel come with the
test environment, so no index is needed) and installed with ``--no-deps``;
the fresh environment reaches the pinned dependencies through a ``.pth`` line
naming this environment's site-packages, whose own ``.pth`` files (the
editable install of the checkout among them) are not run, so ``audit`` and
``reports`` can only come from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from report_tables import hand_made

ROOT = Path(__file__).parents[1]


def _site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix),
                                                    "platbase": str(prefix)}))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The python of a fresh environment holding only the wheel of this checkout."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"  # a copy: building leaves build/ and *.egg-info behind
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("audit", "reports"):
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    wheels = work / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "--quiet", "--wheel-dir", str(wheels), str(source)],
                   check=True, cwd=work, capture_output=True)
    (wheel,) = wheels.glob("lfr_audit-*.whl")
    env = work / "env"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-deps", "--no-index", "--quiet", str(wheel)],
                   check=True, cwd=work, capture_output=True)
    shared = _site_packages(Path(sys.prefix))
    (_site_packages(env) / "shared-dependencies.pth").write_text(f"{shared}\n")
    return python


def test_the_wheel_renders_a_report_outside_the_checkout(installed, tmp_path):
    metrics = tmp_path / "metrics.parquet"
    import pyarrow.parquet as pq

    pq.write_table(hand_made(), metrics)
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "LFR_AUDIT_TEMPLATES", "VIRTUAL_ENV")}
    where = subprocess.run(
        [str(installed), "-c", "import audit, reports; print(audit.__file__, reports.__file__)"],
        cwd=tmp_path, env=clean, capture_output=True, text=True, check=True)
    env_root = installed.parents[1]
    for path in where.stdout.split():
        assert Path(path).is_relative_to(env_root), where.stdout
    done = subprocess.run(
        [str(installed), "-m", "audit", "report", str(metrics), "--format", "html"],
        cwd=tmp_path, env=clean, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<html" in html and "FPIR" in html
