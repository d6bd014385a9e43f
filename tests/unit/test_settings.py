"""Settings: .env.example documents every variable; a wrong value is one clear line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_every_setting_with_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    listed = {}
    for index, line in enumerate(lines):
        if match := re.match(r"^([A-Z0-9_]+)=", line):
            listed[match.group(1)] = lines[index - 1]
    assert set(listed) == {name.upper() for name in Settings.model_fields}
    assert all(comment.startswith("# ") for comment in listed.values())


def test_wrong_value_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: PLW1510 (the exit code is what is checked)
        [sys.executable, "-c", "from app.cli import main; main()", "serve"],
        env={"PATH": "/usr/bin:/bin", "PORT": "eighty", "JOB_LAUNCHER": "mainframe"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("invalid setting PORT:") for line in lines), lines
    assert any(line.startswith("invalid setting JOB_LAUNCHER:") for line in lines), lines
    assert "Traceback" not in result.stderr


def test_non_loopback_without_tokens_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(  # noqa: PLW1510 (the exit code is what is checked)
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--host", "0.0.0.0"],
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without API_TOKENS" in result.stderr
