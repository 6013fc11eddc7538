"""The acceptance test of packaging: custrec built as a wheel, installed into a fresh
virtual environment, run from a directory that has nothing to do with the source
tree. The demo, the KPI report, validation against the shipped customer schema,
``custrec schemas list`` and a dry-run purge by the shipped retention policy all work.

It builds with ``pip wheel`` (pip is in every venv; ``python -m build`` would need an
install) from a copy of the source tree, so that no ``build/`` directory left in the
checkout can put stale files into the wheel. Dependencies come from the package
index (pip's cache makes a second run fast). Deselect it with ``-m 'not install'``;
``make test`` runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from custrec.resources import SHIPPED

from .conftest import REPO

pytestmark = pytest.mark.install

IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "custrec-demo",
)


class Timer:
    """Prints how long each step took (shown with ``pytest -s`` or on failure)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def step(self, what: str) -> None:
        now = time.monotonic()
        print(f"[wheel install] {what}: {now - self.start:.1f}s", file=sys.stderr)
        self.start = now


def archive_text(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name).decode("utf-8")


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def timer() -> Timer:
    return Timer()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, timer: Timer) -> Path:
    source = tmp_path_factory.mktemp("source") / "custrec"
    shutil.copytree(REPO, source, ignore=IGNORED)
    dist = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(dist)],
        cwd=dist,
        env=env,
    )
    timer.step("pip wheel")
    (built,) = dist.glob("custrec-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory, timer: Timer
) -> tuple[Path, Path, dict[str, str]]:
    """(the venv's bin directory, an empty working directory, the environment)."""
    venv = tmp_path_factory.mktemp("venv")
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "PYTHONPATH" and not key.startswith("CUSTREC_")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["CUSTREC_ACTOR"] = "acceptance"
    work = tmp_path_factory.mktemp("elsewhere")
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", str(venv)], cwd=work, env=env)
    timer.step("python -m venv")
    bin_dir = venv / "bin"
    run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=work, env=env)
    timer.step("pip install (dependencies from the index or pip's cache)")
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return bin_dir, work, env


def test_the_wheel_holds_the_package_and_its_resources_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        packaged = {
            item.filename: archive.read(f"custrec/resources/{item.filename}") for item in SHIPPED
        }
    dist_info = [n for n in names if n.split("/")[0].endswith(".dist-info")]
    package = [n for n in names if n.startswith("custrec/")]
    assert sorted(dist_info + package) == sorted(names), "files outside custrec/"
    strays = [
        n
        for n in package
        if not n.endswith(".py")
        and not (n.startswith("custrec/resources/") and n.endswith(".yaml"))
        and n != "custrec/kpi/definitions.md"  # the KPI definitions the HTML report embeds
        and not n.startswith("custrec/resources/names/")  # the name lists of scan
    ]
    assert strays == []
    for listed in ("given-names.txt", "surnames.txt", "common-words.txt", "places.txt"):
        assert f"custrec/resources/names/{listed}" in names
    assert "custrec/resources/names/SOURCES.md" in names  # their sources and licences
    assert not [n for n in names if "/tests/" in n or n.startswith("tests/")]
    assert not [n for n in names if "__pycache__" in n]
    assert "custrec/cli/schemas.py" in names
    definitions = archive_text(wheel, "custrec/kpi/definitions.md")
    assert definitions == (REPO / "docs" / "kpi-definitions.md").read_text(encoding="utf-8")
    for filename, data in packaged.items():
        assert data == (REPO / "schemas" / filename).read_bytes(), filename


def test_the_installed_custrec_works_from_an_unrelated_directory(
    installed: tuple[Path, Path, dict[str, str]], timer: Timer
) -> None:
    bin_dir, work, env = installed
    custrec = str(bin_dir / "custrec")

    where = run(
        [str(bin_dir / "python"), "-c", "import custrec; print(custrec.__file__)"], work, env
    )
    assert where.strip().startswith(str(bin_dir.parent)), where

    demo = run([custrec, "demo", "--workdir", "demo", "--format", "json"], work, env)
    assert json.loads(demo)["version"] == 1
    assert (work / "demo" / "customers.crec").is_file()
    timer.step("custrec demo")

    run(
        [
            custrec,
            "generate",
            "interactions",
            "--rows",
            "400",
            "--bad-share",
            "0",
            "--seed",
            "7",
            "-o",
            "log.csv",
        ],
        work,
        env,
    )
    (work / "notes.txt").write_text("Parcel left with Katarzyna Nowak next door\n")
    found = json.loads(run([custrec, "scan", "notes.txt", "--format", "json"], work, env))
    assert [(f["type"], f["rule"]) for f in found["findings"]] == [("PERSON", "listed_name")]
    timer.step("custrec scan (the shipped name lists)")

    report = json.loads(run([custrec, "report", "kpi", "log.csv", "--format", "json"], work, env))
    assert report["version"] == 1
    assert report["rows_read"] == 400
    run(
        [
            custrec,
            "report",
            "kpi",
            "log.csv",
            "--period",
            "month",
            "--format",
            "html",
            "-o",
            "kpi.html",
        ],
        work,
        env,
    )
    page = (work / "kpi.html").read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html")
    assert 'id="legend-csat"' in page  # the charts (matplotlib)
    assert 'id="def-csat"' in page  # the definitions
    timer.step("custrec report kpi (json, html)")

    run(
        [
            custrec,
            "generate",
            "customers",
            "--rows",
            "60",
            "--bad-share",
            "0",
            "--seed",
            "7",
            "-o",
            "customers.csv",
        ],
        work,
        env,
    )
    validated = run(
        [custrec, "validate", "customers.csv", "--schema", "customer", "--format", "json"],
        work,
        env,
    )
    assert json.loads(validated)["schema"] == "customer"
    timer.step("custrec validate --schema customer")

    listed = json.loads(run([custrec, "schemas", "list", "--format", "json"], work, env))
    assert listed["version"] == 1
    assert [i["name"] for i in listed["shipped"]] == [i.name for i in SHIPPED]

    key_env = {**env, "CUSTREC_KEY_FILE": str(work / "steward.key")}
    run([custrec, "key", "new", "steward.key"], work, env)
    run([custrec, "init", "customers.crec", "--schema", "customer"], work, key_env)
    run([custrec, "collect", "customers.crec", "customers.csv"], work, key_env)
    purge = run(
        [
            custrec,
            "purge",
            "customers.crec",
            "--policy",
            "retention",
            "--dry-run",
            "--as-of",
            "2045-01-01",
            "--format",
            "json",
        ],
        work,
        key_env,
    )
    plan = json.loads(purge)
    assert (plan["version"], plan["kind"], plan["applied"]) == (1, "purge-plan", False)
    assert sum(rule["count"] for rule in plan["rules"]) == 60  # all due by 2045
    timer.step("custrec schemas list, key new, init, collect, purge --dry-run")
