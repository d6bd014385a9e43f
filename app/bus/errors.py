"""Translate aiokafka failures into our errors at the adapter boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from app.errors import BrokerUnavailable, InvalidInput


def translate(action: str, error: BaseException) -> Exception:
    """Our error for a Kafka failure: oversized messages are input errors, the rest 503."""
    if isinstance(error, MessageSizeTooLargeError):
        return InvalidInput(f"{action}: message too large for the broker")
    detail = str(error) or type(error).__name__
    return BrokerUnavailable(f"{action}: {detail}")


@contextmanager
def broker_errors(action: str) -> Iterator[None]:
    """Re-raise KafkaError, socket errors and timeouts as our own errors."""
    try:
        yield
    except (KafkaError, OSError, TimeoutError) as error:
        raise translate(action, error) from error
