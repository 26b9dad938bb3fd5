"""content/ ships as package data: a wheel of the project holds every content
file and every module, and an install from it (not editable) finds its content."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SOURCES = ("pyproject.toml", "README.md", "jikimi", "bot", "actions", "content")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the sources (the checkout stays clean)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(tmp / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = (tmp / "dist").glob("jikimi-*.whl")
    return built


def test_the_wheel_holds_every_content_file_and_every_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    content = {
        "jikimi_content/" + p.relative_to(ROOT / "content").as_posix()
        for p in (ROOT / "content").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert content and content <= names, sorted(content - names)
    modules = {
        p.relative_to(ROOT).as_posix()
        for folder in ("jikimi", "bot", "actions")
        for p in (ROOT / folder).rglob("*.py")
    }
    assert modules <= names, f"packages missing from pyproject.toml: {sorted(modules - names)}"
    for package_data in ("jikimi/desk/templates/widget.html", "jikimi/desk/static/widget.js"):
        assert package_data in names


def test_an_installed_wheel_finds_its_content(wheel, tmp_path):
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
         "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    script = (
        "from jikimi import content, sms\n"
        "print(content.content_dir())\n"
        "print(content.message('outage').text == EXPECTED)\n"
        "print(bool(sms.text('outage')))\n"
    )
    from jikimi import content

    expected = content.message("outage").text
    out = subprocess.run(
        [sys.executable, "-c", f"EXPECTED = {expected!r}\n" + script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    where, same, sms_found = out.stdout.split()
    assert Path(where) == target / "jikimi_content", "the installed copy, not the checkout"
    assert same == "True" and sms_found == "True"
