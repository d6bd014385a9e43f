"""The AQL the fake ArangoDB understands: exactly the queries our adapters send.

Each query is kept here as its own text (not imported from app/), so a changed query in an
adapter is a 400 syntax error here until its meaning is added on purpose. Bind parameters
are checked as ArangoDB checks them (1551 missing, 1552 not declared).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol


class AqlError(Exception):
    def __init__(self, status: int, error_num: int, message: str) -> None:
        super().__init__(message)
        self.status, self.error_num, self.message = status, error_num, message


class HasDocuments(Protocol):
    documents: dict[str, dict[str, Any]]


Collections = Mapping[str, HasDocuments]
Binds = dict[str, Any]

PAGE = """
FOR q IN queue_state
  FILTER @status == null OR q.status == @status
  FILTER @symbol == null OR @symbol IN q.symbols
  SORT q.created_at DESC, q._key DESC
  LIMIT @offset, @limit
  RETURN q
"""
COUNT = """
RETURN LENGTH(FOR q IN queue_state
  FILTER @status == null OR q.status == @status
  FILTER @symbol == null OR @symbol IN q.symbols
  RETURN 1)
"""
ACTIVE = "FOR q IN queue_state FILTER q.status NOT IN @ended RETURN q"
REVISIONS = "FOR q IN queue_state FILTER q.status NOT IN @ended RETURN [q._key, q.revision]"
BY_STATUS = "FOR q IN queue_state COLLECT s = q.status WITH COUNT INTO n RETURN [s, n]"
SCHEDULES = "FOR s IN schedules SORT s.name RETURN s"
COVERAGE_SERIES = """
FOR d IN coverage_days
  FILTER @exchange == null OR d.exchange == @exchange
  FILTER @symbol == null OR d.symbol == @symbol
  FILTER @data_type == null OR d.data_type == @data_type
  COLLECT exchange = d.exchange, symbol = d.symbol, data_type = d.data_type
    AGGREGATE first_day = MIN(d.day), last_day = MAX(d.day)
  SORT exchange, symbol, data_type
  LIMIT @limit
  RETURN [exchange, symbol, data_type, first_day, last_day]
"""
COVERAGE_DAYS = """
FOR d IN coverage_days
  FILTER d.exchange == @exchange AND d.symbol == @symbol AND d.data_type == @data_type
  FILTER d.day >= @first AND d.day <= @last
  SORT d.day
  RETURN d
"""


def _queues(collections: Collections) -> list[dict[str, Any]]:
    return list(collections["queue_state"].documents.values())


def _filtered(collections: Collections, binds: Binds) -> list[dict[str, Any]]:
    status, symbol = binds["status"], binds["symbol"]
    return [
        q
        for q in _queues(collections)
        if (status is None or q.get("status") == status)
        and (symbol is None or symbol in (q.get("symbols") or []))
    ]


def _page(collections: Collections, binds: Binds) -> list[Any]:
    rows = sorted(
        _filtered(collections, binds),
        key=lambda q: (q.get("created_at") or "", q["_key"]),
        reverse=True,
    )
    offset, limit = int(binds["offset"]), int(binds["limit"])
    return rows[offset : offset + limit]


def _count(collections: Collections, binds: Binds) -> list[Any]:
    return [len(_filtered(collections, binds))]


def _active(collections: Collections, binds: Binds) -> list[Any]:
    return [q for q in _queues(collections) if q.get("status") not in binds["ended"]]


def _revisions(collections: Collections, binds: Binds) -> list[Any]:
    return [[q["_key"], q.get("revision")] for q in _active(collections, binds)]


def _by_status(collections: Collections, binds: Binds) -> list[Any]:
    counts: dict[str, int] = {}
    for queue in _queues(collections):
        status = str(queue.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return [[status, counts[status]] for status in sorted(counts)]


def _schedules(collections: Collections, binds: Binds) -> list[Any]:
    schedules = collections["schedules"].documents.values()
    return sorted(schedules, key=lambda s: str(s.get("name")))


def _coverage_series(collections: Collections, binds: Binds) -> list[Any]:
    spans: dict[tuple[str, str, str], list[str]] = {}
    for day in collections["coverage_days"].documents.values():
        if all(
            binds[f] is None or day.get(f) == binds[f] for f in ("exchange", "symbol", "data_type")
        ):
            series = (day["exchange"], day["symbol"], day["data_type"])
            spans.setdefault(series, []).append(day["day"])
    rows = [[*series, min(days), max(days)] for series, days in sorted(spans.items())]
    return rows[: int(binds["limit"])]


def _coverage_days(collections: Collections, binds: Binds) -> list[Any]:
    rows = [
        day
        for day in collections["coverage_days"].documents.values()
        if all(day.get(f) == binds[f] for f in ("exchange", "symbol", "data_type"))
        and binds["first"] <= day["day"] <= binds["last"]
    ]
    return sorted(rows, key=lambda day: day["day"])


def _normal(query: str) -> str:
    return " ".join(query.split())


QUERIES: dict[str, Callable[[Collections, Binds], list[Any]]] = {
    _normal(PAGE): _page,
    _normal(COUNT): _count,
    _normal(ACTIVE): _active,
    _normal(REVISIONS): _revisions,
    _normal(BY_STATUS): _by_status,
    _normal(SCHEDULES): _schedules,
    _normal(COVERAGE_SERIES): _coverage_series,
    _normal(COVERAGE_DAYS): _coverage_days,
}


def run_query(query: str, binds: Binds, collections: Collections) -> list[Any]:
    """The rows of one of the known queries; KeyError(name) for a missing collection."""
    run = QUERIES.get(_normal(query))
    if run is None:
        raise AqlError(400, 1501, f"syntax error: the fake does not know the query {query!r}")
    _check_binds(query, binds)
    return run(collections, binds)


def _check_binds(query: str, binds: Binds) -> None:
    declared = set(re.findall(r"(?<!@)@(\w+)", query))
    for name in sorted(declared - set(binds)):
        raise AqlError(400, 1551, f"no value specified for declared bind parameter '{name}'")
    for name in sorted(set(binds) - declared):
        raise AqlError(400, 1552, f"bind parameter '{name}' was not declared in the query")
