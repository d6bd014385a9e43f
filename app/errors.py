"""Our own error hierarchy: every failure the API can report carries its HTTP status.

Third-party errors (sqlite3, python-arango, aiokafka, kubernetes) are wrapped in these at
the adapter boundary, so services and routes never see a library exception.
"""

from __future__ import annotations

from typing import Any


class QueueManagerError(Exception):
    """Base of every error we raise on purpose; `status_code` is what REST answers."""

    status_code: int = 500
    default_message: str = "internal error"

    def __init__(self, message: str | None = None, *, data: Any = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.data = data


class MalformedBody(QueueManagerError):
    """The body is not JSON at all (as opposed to JSON of the wrong shape, 422)."""

    status_code = 400
    default_message = "the body is not valid JSON"


class UnsupportedMediaType(QueueManagerError):
    status_code = 415
    default_message = "the body must be application/json"


class InvalidInput(QueueManagerError):
    status_code = 422
    default_message = "invalid input"


class InvalidMessage(InvalidInput):
    """A Kafka record we cannot use; `reason` (`not_json` or `invalid`) labels the metric."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class Unauthorized(QueueManagerError):
    status_code = 401
    default_message = "missing or invalid bearer token"


class QueueNotFound(QueueManagerError):
    status_code = 404
    default_message = "queue not found"


class JobNotFound(QueueManagerError):
    status_code = 404
    default_message = "job not found"


class ScheduleNotFound(QueueManagerError):
    status_code = 404
    default_message = "schedule not found"


class RunRefused(QueueManagerError):
    """A schedule's run was refused by its concurrency policy (forbid, a run is active)."""

    status_code = 409
    default_message = "an earlier run of the schedule is still active"


class IllegalTransition(QueueManagerError):
    status_code = 409
    default_message = "illegal status transition"


class AlreadyExists(QueueManagerError):
    status_code = 409
    default_message = "already exists"


class ConcurrentUpdate(QueueManagerError):
    """A revision check failed more often than the retry budget allows."""

    status_code = 409
    default_message = "the queue changed concurrently; retry"


class DependencyUnavailable(QueueManagerError):
    """A dependency (store, broker, Kubernetes API) cannot be reached or refuses to work."""

    status_code = 503
    default_message = "a dependency is unavailable"


class StoreUnavailable(DependencyUnavailable):
    default_message = "the queue store is unavailable"


class BrokerUnavailable(DependencyUnavailable):
    default_message = "the Kafka broker is unavailable"


class LauncherUnavailable(DependencyUnavailable):
    default_message = "the job platform is unavailable"


class LauncherForbidden(QueueManagerError):
    """The job platform refused a call (for Kubernetes: a missing RBAC permission)."""

    status_code = 503
    default_message = "the job platform refused the call"


class LaunchFailed(QueueManagerError):
    status_code = 500
    default_message = "the job could not be launched"


class PayloadTooLarge(QueueManagerError):
    status_code = 413
    default_message = "request body too large"
