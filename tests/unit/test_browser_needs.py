"""The browser tests run where they can and never skip silently in CI: `make browser`
installs whatever half of chromium + chromium-driver is missing; under CI=true a browser test
that still cannot run fails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.browser import chromium_paths

ROOT = Path(__file__).resolve().parents[2]


def fake_bin(tmp_path: Path, *present: str) -> Path:
    """A PATH of its own: `id` says root, `apt-get` records its arguments, and `present`
    are the commands that exist."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "id": "echo 0",
        "apt-get": f'echo "$@" >> {tmp_path / "apt.log"}',
        **{name: "exit 0" for name in present},
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def make_browser(bin_dir: Path) -> None:
    make = shutil.which("make")
    assert make, "make is one of the README's two commands"
    subprocess.run([make, "-s", "browser"], cwd=ROOT, env={"PATH": str(bin_dir)}, check=True)


def test_make_browser_installs_the_driver_when_only_the_browser_is_there(tmp_path: Path) -> None:
    make_browser(fake_bin(tmp_path, "chromium"))
    assert (tmp_path / "apt.log").read_text().splitlines() == [
        "update -qq",
        "install -y -qq chromium chromium-driver",
    ]


def test_make_browser_installs_nothing_when_both_are_there(tmp_path: Path) -> None:
    make_browser(fake_bin(tmp_path, "chromium", "chromedriver"))
    assert not (tmp_path / "apt.log").exists()


def test_a_missing_driver_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(fake_bin(tmp_path, "chromium")))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing: \\['chromium-driver'\\]"):
        chromium_paths()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="chromium-driver"):
        chromium_paths()
