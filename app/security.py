"""Exposure rules at start-up: open on loopback is allowed (and said); elsewhere a token is
required unless ALLOW_UNAUTHENTICATED=true."""

from __future__ import annotations

import ipaddress
import sys

import structlog

from app.config import Settings

log = structlog.get_logger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    if settings.token_list:
        return
    if is_loopback(settings.host):
        log.warning(
            "no API_TOKENS: the API is open, reachable from this machine only", host=settings.host
        )
        return
    if settings.allow_unauthenticated:
        log.warning(
            "no API_TOKENS and ALLOW_UNAUTHENTICATED=true: the API is open to the network",
            host=settings.host,
        )
        return
    print(
        f"refusing to serve on {settings.host} without API_TOKENS; set API_TOKENS, or "
        "ALLOW_UNAUTHENTICATED=true to run open on purpose",
        file=sys.stderr,
    )
    raise SystemExit(2)
