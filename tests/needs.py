"""What a test needs from the machine: without it the test skips and says why, except in
CI (`CI=true`), where it fails: nothing may skip silently there."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`, or fail with it under CI=true."""
    if in_ci():
        pytest.fail(f"cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)
