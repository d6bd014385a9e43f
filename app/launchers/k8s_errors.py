"""Kubernetes API calls the launcher makes, and how their failures become our errors.

`API_CALLS` is the single list of what the launcher may ask the API for: every call goes
through it, its RBAC permission names the missing grant in a 403, and a test checks the
Role in deploy/ grants exactly these permissions and no more.
"""

from __future__ import annotations

import json
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
        return _refused(error, what, namespace)
    if status in _BY_STATUS:
        kind, template = _BY_STATUS[status]
        return kind(template.format(what=what, resource=call.qualified, namespace=namespace))
    said = server_message(error)
    if status >= 500 or status == 429:
        return LauncherUnavailable(f"the Kubernetes API answered {status} to {what}" + said)
    return LaunchFailed(f"Kubernetes refused to {what}: {status} {error.reason}" + said)


_BY_STATUS: dict[int, tuple[type[QueueManagerError], str]] = {
    404: (JobNotFound, "{resource} not found in namespace {namespace}"),
    409: (AlreadyExists, "{resource} already exists in namespace {namespace}"),
    410: (ResourceVersionExpired, "{what}: resource version expired (410 Gone)"),
}


def _refused(error: ApiException, what: str, namespace: str) -> LauncherForbidden:
    """401: our credentials are not accepted; 403: they are, but RBAC lacks a grant."""
    if error.status == 401:
        return LauncherForbidden(
            f"the Kubernetes API did not accept the service's credentials to {what} "
            "(401 Unauthorized): check the service account token, or the kubeconfig"
            + server_message(error)
        )
    return LauncherForbidden(
        f"the service account may not {what} in namespace {namespace}: grant it in the Role"
        f" (Kubernetes answered {error.status} {error.reason})"
    )


def server_message(error: ApiException) -> str:
    """`: <the API server's message>` from its Status body (names the invalid field), or ''."""
    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return f": {message}" if isinstance(message, str) and message else ""
