"""One logging setup for the service and its jobs.

JSON lines for machines (one object per line, `queue_id` where there is one), or readable
text (app/log_text.py) when a person watches a terminal; secrets redacted either way;
stamina's retries told in words (app/retries.py). Routine lines (a job's periodic
telemetry) carry `routine: true` so a reader can leave them out.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import IO, Any, Literal

import structlog
from stamina.instrumentation import PrometheusOnRetryHook, set_on_retry_hooks

from app.log_text import human_lines
from app.redaction import redact
from app.retries import log_retry

LogFormat = Literal["auto", "json", "text"]
# Libraries whose INFO lines describe their own plumbing (aiokafka's group joins, httpx's
# line per request): WARNING and above unless LOG_LEVEL=DEBUG.
_CHATTY_LIBRARIES = ("aiokafka", "kafka", "httpx", "httpcore")


def render_text(_: Any, __: str, event: MutableMapping[str, Any]) -> str:
    return "\n".join(human_lines(dict(event)))


def configure_logging(
    level: str = "INFO", log_format: LogFormat = "auto", stream: IO[str] | None = None
) -> None:
    """Route structlog and stdlib logging through one redacting renderer on `stream`."""
    stream = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = (
        render_text if _wants_text(log_format, stream) else structlog.processors.JSONRenderer()
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
        foreign_pre_chain=shared,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")
    set_on_retry_hooks([PrometheusOnRetryHook, log_retry])


def _wants_text(log_format: LogFormat, stream: IO[str]) -> bool:
    if log_format == "auto":
        return stream.isatty()
    return log_format == "text"
