"""Child-process plumbing for the local launcher: spawn in its own process group, tied to
our life (app/children.py), signal the whole group, read the tail of a log file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from app.children import tied_to_parent
from app.exit_codes import MEANING

TAIL_BLOCK = 8192


async def spawn(argv: list[str], env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    """Start `argv` with stdout and stderr appended to `log_path`, in a new session, tied
    to our life."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv, options = tied_to_parent(argv, env)
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
            **options,
        )


def signal_group(process: asyncio.subprocess.Process, signum: int) -> None:
    """Signal the job's whole process group, so its children stop too."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


async def terminate(process: asyncio.subprocess.Process, grace_seconds: float) -> None:
    """SIGTERM, wait up to the grace period, then SIGKILL; always reaps the process."""
    signal_group(process, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), timeout=grace_seconds)
    except TimeoutError:
        signal_group(process, signal.SIGKILL)
        await process.wait()


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a file, reading backwards in blocks (logs can be large)."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        position, data = handle.tell(), b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(TAIL_BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:] if count else []


def describe_exit(code: int) -> str:
    """`exit code 2 (bad configuration)` (app/exit_codes.py), or `killed by SIGKILL`."""
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    meaning = next((text for known, text in MEANING.items() if known == code), None)
    return f"exit code {code}" + (f" ({meaning})" if meaning else "")
