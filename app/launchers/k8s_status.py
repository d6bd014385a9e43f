"""Read a Job's state from its conditions: one parser for listed, fetched and watched Jobs."""

from __future__ import annotations

from typing import Any

from app.launchers.base import JobOutcome, JobPhase
from app.launchers.k8s_render import MANAGED_BY, MANAGER, QUEUE_ID

Json = dict[str, Any]


def phase_of(job: Json) -> tuple[JobPhase, str | None]:
    """Complete -> SUCCEEDED; Failed (deadline or backoff) -> FAILED with why; else RUNNING."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return JobPhase.SUCCEEDED, None
        if condition.get("type") == "Failed":
            return JobPhase.FAILED, _describe(condition)
    return JobPhase.RUNNING, None


def _describe(condition: Json) -> str:
    reason, message = condition.get("reason"), condition.get("message")
    return ": ".join(part for part in (reason, message) if part) or "job failed"


def name_of(job: Json) -> str:
    return str(job.get("metadata", {}).get("name", ""))


def identity(job: Json) -> tuple[str, str]:
    """(name, uid): a Job recreated under the same name is a new Job."""
    return name_of(job), str(job.get("metadata", {}).get("uid") or "")


def queue_of(job: Json) -> str:
    """The queue id, unsanitised, from the annotation (labels may have been trimmed)."""
    metadata = job.get("metadata", {})
    annotations = metadata.get("annotations") or {}
    return str(annotations.get(QUEUE_ID) or (metadata.get("labels") or {}).get(QUEUE_ID, ""))


def is_managed(job: Json) -> bool:
    """Our Jobs only, even where a server ignores the label selector."""
    return (job.get("metadata", {}).get("labels") or {}).get(MANAGED_BY) == MANAGER


def outcome_of(job: Json, phase: JobPhase, message: str | None) -> JobOutcome:
    return JobOutcome(
        queue_id=queue_of(job),
        name=name_of(job),
        phase=phase,
        message=message,
        bad_config=phase is JobPhase.FAILED and _failed_by_policy(job),
    )


def _failed_by_policy(job: Json) -> bool:
    """Failed by the podFailurePolicy's one FailJob rule: ExitCode.BAD_CONFIG
    (app/launchers/k8s_render.py)."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(
        c.get("type") == "Failed" and c.get("reason") == "PodFailurePolicy" for c in conditions
    )
