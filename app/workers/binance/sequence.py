"""Gap detection on ordered Binance streams, per stream (one symbol each), across sessions.

Trades (`t`) and aggregate trades (`a`) carry ids that follow one another per symbol; a
kline stream sends a symbol's candles one after another, each ending with a closed (`x`)
event. A jump is a gap (found, recorded with its bounds, handed to the backfill); a repeat
is dropped (the overlap of two connections). The work per message is one dictionary read,
one int compare and one write: `speed` may optimise the path around it, not this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.models.gaps import Gap, GapKey
from app.workers.binance.batcher import Batcher
from app.workers.binance.intervals import next_open, previous_open
from app.workers.binance.stream_names import normalizer_for
from app.workers.binance.wire import AggTradeEvent, TradeEvent, decoder_for
from app.workers.gaps import GapBook

Event = dict[str, Any]
OnGap = Callable[[Gap], None]
ID_KEYS: dict[str, GapKey] = {"trade": "trade_id", "aggTrade": "agg_id"}
TradeEvents = TradeEvent | AggTradeEvent


class IdSequence:
    """StreamHandler for `@trade` and `@aggTrade`: the next id must be the last one + 1.

    Events are the decoder's Structs (app/workers/binance/wire.py): `id` is the trade id
    or the aggregate trade id."""

    def __init__(
        self, exchange: str, suffix: str, batcher: Batcher, book: GapBook, on_gap: OnGap
    ) -> None:
        self.exchange, self.batcher, self.book, self.on_gap = exchange, batcher, book, on_gap
        self.key = ID_KEYS[suffix]
        self.normalize = normalizer_for(suffix)
        self.decode = decoder_for(suffix)
        self.append = batcher.pending.append
        self.previous: dict[str, TradeEvents] = {}
        """The last event handled, by stream."""
        self.repeats = 0

    def on_connect(self, streams: list[str]) -> None:
        return None

    def __call__(self, stream: str, data: TradeEvents, now: int) -> None:
        previous = self.previous.get(stream)
        if previous is not None and data.id != previous.id + 1:
            if data.id <= previous.id:
                self.repeats += 1
                return
            self._gap(stream, previous, data)
        self.previous[stream] = data
        self.append(self.normalize(self.exchange, data, now))

    def continues(self, stream: str, data: TradeEvents) -> bool:
        """True when `data` leaves no hole after what was handled on `stream`."""
        previous = self.previous.get(stream)
        return previous is None or data.id <= previous.id + 1

    def _gap(self, stream: str, previous: TradeEvents, data: TradeEvents) -> None:
        first, last = previous.id + 1, data.id - 1
        times = (previous.T, data.T)
        self.on_gap(self.book.found(data.s, stream, self.key, first, last, times))


class KlineSequence:
    """StreamHandler for `@kline_<interval>`: a candle must close before the next opens.

    A later open time than the current candle's means every candle from the first one not
    seen closed to the one before the new one was missed (at least its final values).
    Events of an older candle, or older updates of the current one, are repeats."""

    def __init__(
        self, exchange: str, suffix: str, batcher: Batcher, book: GapBook, on_gap: OnGap
    ) -> None:
        self.exchange, self.batcher, self.book, self.on_gap = exchange, batcher, book, on_gap
        self.interval = suffix.split("_", 1)[1]
        self.normalize = normalizer_for(suffix)
        self.current: dict[str, tuple[int, bool, int]] = {}
        """By stream: the current candle's open time, whether it closed, the event time."""
        self.repeats = 0

    def on_connect(self, streams: list[str]) -> None:
        return None

    def __call__(self, stream: str, data: Event, now: int) -> None:
        candle = data["k"]
        current = self.current.get(stream)
        if current is not None and candle["t"] != current[0]:
            if candle["t"] < current[0]:
                self.repeats += 1
                return
            self._gap_before(stream, current, data)
        elif current is not None and (current[1] or data["E"] < current[2]):
            self.repeats += 1
            return
        self.current[stream] = (candle["t"], candle["x"], data["E"])
        self.batcher.pending.append(self.normalize(self.exchange, data, now))

    def continues(self, stream: str, data: Event) -> bool:
        """True when `data` is of the current candle or an older one, or opens the next
        one after the current closed."""
        current = self.current.get(stream)
        if current is None or data["k"]["t"] <= current[0]:
            return True
        return current[1] and data["k"]["t"] == next_open(current[0], self.interval)

    def _gap_before(self, stream: str, current: tuple[int, bool, int], data: Event) -> None:
        opened, closed, _ = current
        first = next_open(opened, self.interval) if closed else opened
        last = previous_open(data["k"]["t"], self.interval)
        if first <= last:
            gap = self.book.found(data["s"], stream, "open_time", first, last, (first, last))
            self.on_gap(gap)


SEQUENCES: dict[str, type[IdSequence] | type[KlineSequence]] = {
    "trade": IdSequence,
    "aggTrade": IdSequence,
    "kline": KlineSequence,
}


def sequence_for(
    exchange: str, suffix: str, batcher: Batcher, book: GapBook, on_gap: OnGap
) -> IdSequence | KlineSequence | None:
    """The gap-finding handler of a stream kind, or None for unordered streams (tickers)."""
    kind = SEQUENCES.get(suffix.split("_", 1)[0])
    return kind(exchange, suffix, batcher, book, on_gap) if kind else None
