"""Kubernetes API calls the launcher makes, and how their failures become our errors.

`API_CALLS` is the single list of what the launcher may ask the API for: every call goes
through it, its RBAC permission names the missing grant in a 403, and a test checks the
Role in deploy/ grants exactly these permissions and no more.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from app.errors import (
    AlreadyExists,
    JobNotFound,
    LauncherForbidden,
    LauncherUnavailable,
    LaunchFailed,
    QueueManagerError,
)


class ResourceVersionExpired(LauncherUnavailable):
    """410 Gone: the resourceVersion to watch from is too old; list again, no backoff."""


@dataclass(frozen=True)
class ApiCall:
    """One RBAC permission: `verb` on `resource` (with subresource) of API `group`."""

    verb: str
    resource: str
    group: str = ""

    @property
    def qualified(self) -> str:
        """`jobs.batch` or `pods/log`: how kubectl and RBAC errors spell the resource."""
        return f"{self.resource}.{self.group}" if self.group else self.resource


API_CALLS: dict[str, ApiCall] = {
    "create_namespaced_job": ApiCall("create", "jobs", "batch"),
    "read_namespaced_job": ApiCall("get", "jobs", "batch"),
    "list_namespaced_job": ApiCall("list", "jobs", "batch"),
    "watch_namespaced_job": ApiCall("watch", "jobs", "batch"),
    "delete_namespaced_job": ApiCall("delete", "jobs", "batch"),
    "list_namespaced_pod": ApiCall("list", "pods"),
    "read_namespaced_pod_log": ApiCall("get", "pods/log"),
}


def translate(error: Exception, call: ApiCall, namespace: str) -> QueueManagerError:
    """Our error for a failed call; the message says what to do where we know it."""
    if isinstance(error, ApiException) and error.status:
        return _from_status(error, call, namespace)
    if isinstance(error, ApiException | HTTPError | OSError):
        return LauncherUnavailable(
            f"cannot reach the Kubernetes API to {call.verb} {call.qualified}: {error}"
        )
    return LaunchFailed(f"Kubernetes call {call.verb} {call.qualified} failed: {error!r}")


def _from_status(error: ApiException, call: ApiCall, namespace: str) -> QueueManagerError:
    status, what = int(error.status), f"{call.verb} {call.qualified}"
    if status in (401, 403):
        return LauncherForbidden(
            f"the service account may not {what} in namespace {namespace}: grant it in the Role"
            f" (Kubernetes answered {status} {error.reason})"
        )
    if status == 404:
        return JobNotFound(f"{call.qualified} not found in namespace {namespace}")
    if status == 410:
        return ResourceVersionExpired(f"{what}: resource version expired (410 Gone)")
    if status == 409:
        return AlreadyExists(f"{call.qualified} already exists in namespace {namespace}")
    if status >= 500 or status == 429:
        return LauncherUnavailable(f"the Kubernetes API answered {status} to {what}")
    return LaunchFailed(f"Kubernetes refused to {what}: {status} {error.reason}")
