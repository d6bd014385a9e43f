"""Child processes that never outlive us: the embedded broker, local jobs, benchmark servers.

Linux's parent-death signal kills the child when we die, even by SIGKILL. util-linux
`setpriv --pdeathsig KILL` sets it without a preexec_fn, which would force CPython's slow
fork path (twice the spawn time in a large process); a preexec_fn is the fallback where
setpriv is missing. The signal is tied to the spawning *thread*: spawn from the loop thread.

A parent that dies between the fork and the moment the signal is set sends no signal: the
child would run on as an orphan (issue 12, item 3). So after setting it, the child checks
that its parent is still the process that spawned it, and exits if not (a POSIX shell's
`$PPID` is read after setpriv set the signal: that closes the window).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any

PR_SET_PDEATHSIG = 1
ORPHANED_EXIT_CODE = 3
SETPRIV = shutil.which("setpriv")
SHELL = shutil.which("sh")
PARENT_CHECK = (
    '[ "$PPID" = "$1" ] || {{ echo "parent $1 gone before the start: not starting" >&2; '
    'exit {code}; }}; shift; {unset}exec "$@"'
)
"""Run after setpriv set the signal: exec the command only if our parent is still `$1`.
The shell exports PWD: it is unset again when the child's environment had none (a job
gets exactly its environment contract)."""


def tied_to_parent(
    argv: list[str], env: Mapping[str, str] | None = None
) -> tuple[list[str], dict[str, Any]]:
    """The argv and the Popen/create_subprocess_exec options that tie a child to us;
    `env` is the child's environment (default: ours)."""
    parent = str(os.getpid())
    if SETPRIV and SHELL:
        unset = "" if "PWD" in (os.environ if env is None else env) else "unset PWD; "
        script = PARENT_CHECK.format(code=ORPHANED_EXIT_CODE, unset=unset)
        guard = [SHELL, "-c", script, "sh", parent]
        return [SETPRIV, "--pdeathsig", "KILL", "--", *guard, *argv], {}
    return argv, {"preexec_fn": _die_with(os.getpid())}


def _die_with(parent_pid: int) -> Callable[[], None]:
    def in_child() -> None:
        """Before exec: SIGKILL on the parent's death; exit if it is already gone."""
        if sys.platform == "linux":
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(ORPHANED_EXIT_CODE)

    return in_child
