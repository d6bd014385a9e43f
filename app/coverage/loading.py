"""Which days running history loads are loading now: the days a fill leaves alone.

A day is being loaded while a queue's history loader of that data type, for that symbol,
whose range holds the day, has not ended (its connector may outlive it: that copies what is
already in the topic, it loads nothing more).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from app.models.catalog import Target
from app.models.coverage import data_type_of, is_history
from app.models.queues import QueueState, parse_time_range
from app.models.status import is_terminal

SeriesKey = tuple[str, str, str]
"""(exchange, symbol, data type)"""


class Loading:
    """Active history loads by series: (first day, last day, queue id)."""

    def __init__(self, queues: Iterable[QueueState]) -> None:
        self._ranges: dict[SeriesKey, list[tuple[date, date, str]]] = defaultdict(list)
        for queue in queues:
            self._add(queue)

    def _add(self, queue: QueueState) -> None:
        first, last = parse_time_range(queue.time_range)
        for job in queue.jobs:
            data_type = data_type_of(job.type)
            if job.target != Target.LOADER_PRODUCER or data_type is None:
                continue
            if not is_history(job.type) or is_terminal(job.status):
                continue
            for symbol in queue.symbols or [queue.symbol]:
                self._ranges[(queue.exchange.value, symbol, data_type)].append(
                    (first, last, queue.id)
                )

    def queues_on(self, series: SeriesKey, day: date) -> list[str]:
        return [
            queue for first, last, queue in self._ranges.get(series, ()) if first <= day <= last
        ]
