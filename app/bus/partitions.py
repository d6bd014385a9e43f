"""Keyed records' partitions, each key's computed once while the topic keeps its size.

aiokafka's default partitioner hashes every record's key with murmur2 in Python (about
3 µs a record with the lists it builds), and a stream loader sends many records of few
keys (its symbols). The answer is the same partitioner's, so a key lands where it always
did; a topic that grows partitions starts a fresh table.
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka.partitioner import DefaultPartitioner

Chooser = Callable[[bytes | None], int | None]


class KeyPartitions:
    def __init__(self) -> None:
        self._partitioner = DefaultPartitioner()
        self._tables: dict[tuple[str, tuple[int, ...]], dict[bytes, int]] = {}

    def chooser(self, topic: str, partitions: set[int]) -> Chooser:
        """The partition of a key on `topic` (None for no key: the producer picks one).
        `partitions` as the producer's metadata gives them: aiokafka hands the partitioner
        `list()` of that same set, so the order, and so the answer, is the same."""
        ordered = list(partitions)
        table = self._tables.setdefault((topic, tuple(ordered)), {})

        def choose(key: bytes | None) -> int | None:
            if key is None:
                return None
            found = table.get(key)
            if found is None:
                found = table[key] = self._partitioner(key, ordered, ordered)
            return found

        return choose
