"""Every derived name in one place: Kubernetes job names, Kafka topics, collections.

Names are deterministic, so a retried launch or a second replica derives the same name and
finds what the first one created instead of making a duplicate.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

from app.models.catalog import HISTORY_PREFIX, Exchange

MAX_K8S_NAME = 63
_QUOTE_ASSETS = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY")
_EXCHANGE_TAGS = {Exchange.BINANCE: "", Exchange.BINANCE_FUTURES: "fut_", Exchange.MOEX: "moex_"}


def job_name(queue_id: str, target: str, job_type: str) -> str:
    """A DNS-1123 label of at most 63 characters, unique per (queue, target, type)."""
    compact_id = queue_id.replace("-", "")[:12]
    readable = _dns_label(f"qm-{compact_id}-{target}-{job_type}")
    if len(readable) <= MAX_K8S_NAME:
        return readable
    digest = hashlib.sha256(f"{queue_id}/{target}/{job_type}".encode()).hexdigest()[:8]
    return f"{readable[: MAX_K8S_NAME - 9].rstrip('-')}-{digest}"


def attempt_name(job: str, attempt: int) -> str:
    """The process or Kubernetes Job of one attempt of `job`: the job's own name for the
    first (as before retries existed), `<job>-a<n>` for attempt n, at most 63 characters
    (a long name keeps a digest of the whole, so two jobs never share an attempt's name)."""
    if attempt <= 1:
        return job
    suffix = f"-a{attempt}"
    if len(job) + len(suffix) <= MAX_K8S_NAME:
        return f"{job}{suffix}"
    digest = hashlib.sha256(job.encode()).hexdigest()[:8]
    return f"{job[: MAX_K8S_NAME - len(suffix) - 9].rstrip('-')}-{digest}{suffix}"


def _dns_label(text: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    return re.sub(r"-{2,}", "-", label).strip("-")


def base_asset(symbol: str) -> str:
    """`BTCUSDT` -> `btc`: seed 002 names collections after the base asset."""
    upper = symbol.upper()
    for quote in _QUOTE_ASSETS:
        if upper.endswith(quote) and len(upper) > len(quote):
            return upper[: -len(quote)].lower()
    return re.sub(r"[^a-z0-9]+", "_", upper.lower())


def period_suffix(start: date, end: date) -> str:
    """`2024_06` for a whole month, `2024_08_01` for one day, else both days."""
    if start == end:
        return start.strftime("%Y_%m_%d")
    next_day = date.fromordinal(end.toordinal() + 1)
    if start.day == 1 and next_day.day == 1 and (start.year, start.month) == (end.year, end.month):
        return start.strftime("%Y_%m")
    return f"{start:%Y%m%d}_{end:%Y%m%d}"


def data_name(symbols: list[str], exchange: Exchange, job_type: str, start: date, end: date) -> str:
    """Topic and collection name of one data stream, like `btc_candles_5m_2024_06`."""
    kind = job_type.removeprefix(HISTORY_PREFIX)
    subject = base_asset(symbols[0])
    if len(symbols) > 1:
        subject = f"{subject}_x{len(symbols)}"
    name = f"{subject}_{_EXCHANGE_TAGS[exchange]}{kind}_{period_suffix(start, end)}"
    return re.sub(r"[^a-z0-9_]+", "_", name.lower())
