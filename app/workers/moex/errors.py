"""MOEX loader errors: our hierarchy, wrapping websockets and STOMP failures."""

from __future__ import annotations

from app.errors import QueueManagerError


class MoexError(QueueManagerError):
    default_message = "MOEX stream failed"


class MoexAccessDenied(MoexError):
    """The gateway refused our credentials: fatal, retrying would only hammer it."""

    status_code = 401
    default_message = "MOEX refused the credentials (Access denied)"


class MoexServerError(MoexError):
    """An ERROR frame other than access denied: the connection is re-established."""


class MoexConnectionLost(MoexError):
    """The WebSocket dropped or could not be opened; the connection is re-established."""


class MoexProtocolError(MoexError):
    """The peer sent something that is not STOMP as MOEX speaks it."""


class MoexJobInvalid(MoexError):
    status_code = 422
    default_message = "the MOEX job request is invalid"
