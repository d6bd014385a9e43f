"""The lowest versions pyproject allows must have the library APIs the code calls."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
FLOORS = {
    "urllib3": Version("2.3"),  # HTTPResponse.shutdown() unblocks the Job watch (k8s_watch)
    "kubernetes": Version("30"),
    "python-arango": Version("8.1"),  # http_client= and overwrite_mode= (store adapters)
    "cronsim": Version("2.8"),  # seconds as the first of six fields, explain() (schedules)
    "aiohttp": Version("3.11"),  # ClientWSTimeout (binance/session.py)
}


def declared_floor(name: str) -> Version:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    for line in dependencies:
        requirement = Requirement(line)
        if requirement.name == name:
            floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
            assert floors, f"{name} has no >= floor in pyproject.toml"
            return max(floors)
    raise AssertionError(f"{name} is not a declared dependency in pyproject.toml")


def test_declared_floors_have_the_apis_we_call() -> None:
    for name, needed in FLOORS.items():
        assert declared_floor(name) >= needed, f"{name} must be >= {needed} in pyproject.toml"
