"""How a job's process ends: one contract for the job runtime (app/workers/runtime.py), the
local launcher and the Kubernetes Job (its podFailurePolicy, app/launchers/k8s_render.py).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    """Finished, or stopped on request."""
    FAILED = 1
    """The job failed (exchange, broker or store trouble): a pod is retried, up to
    K8S_JOB_BACKOFF_LIMIT times."""
    BAD_CONFIG = 2
    """The job cannot start as configured (an invalid environment, an unknown target, an
    unreadable CA file, SASL without KAFKA_USER): retrying cannot help, so the Job fails at
    once. A failure once the job runs is FAILED, whatever raised it."""


MEANING = {ExitCode.FAILED: "failed", ExitCode.BAD_CONFIG: "bad configuration"}
