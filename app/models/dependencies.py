"""Which request of a queue waits for which: the edges of its pipeline (issue 16).

Without an explicit `depends_on`, edges follow from seed 002's names: a graph-builder
waits for the requests that produce its `collection_inputs`, a gnn-trainer for the
producer of its `graph_collection`, a visualizer for the producer of its `source`. A
connector produces its collection; it starts with its loader (no edge: it consumes the
loader's topic as it is written). An input no request produces is external (no edge).
`depends_on: [i, ...]` replaces the inference for that request. Every edge set is a DAG:
a cycle or an index out of range is a FieldProblem naming `requests[i].depends_on`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from app import naming
from app.models.catalog import Exchange
from app.models.problems import FieldProblem
from app.models.requests import (
    ConnectorRequest,
    GnnTrainerRequest,
    GraphBuilderRequest,
    PipelineRequest,
    VisualizerRequest,
)

Edges = list[list[int]]
"""For each request, the indexes of the requests it waits for."""


class Naming:
    """What the connectors' collections are called in one queue (their default names
    follow from the queue's symbols, exchange and range; a schedule's template with a
    relative range has none yet: only given collections are known then)."""

    def __init__(
        self, symbols: list[str], exchange: Exchange, days: tuple[date, date] | None
    ) -> None:
        self._args = (symbols, exchange)
        self._days = days

    def collection(self, request: ConnectorRequest) -> str | None:
        if request.collection or self._days is None:
            return request.collection
        symbols, exchange = self._args
        return naming.data_name(symbols, exchange, request.type, *self._days)


def outputs(request: PipelineRequest, names: Naming) -> list[str]:
    """The collections a request writes."""
    if isinstance(request, ConnectorRequest):
        collection = names.collection(request)
        return [collection] if collection else []
    if isinstance(request, GraphBuilderRequest):
        return [request.collection_output]
    if isinstance(request, GnnTrainerRequest) and request.model_output:
        return [request.model_output]
    return []


def inputs(request: PipelineRequest) -> list[str]:
    """The collections a request reads (a loader and a connector read none of them)."""
    if isinstance(request, GraphBuilderRequest):
        return list(request.collection_inputs)
    if isinstance(request, GnnTrainerRequest):
        return [request.graph_collection]
    if isinstance(request, VisualizerRequest):
        return [request.source]
    return []


def edges_of(requests: Sequence[PipelineRequest], names: Naming) -> Edges:
    """Explicit depends_on where given, else the inferred producers of the inputs."""
    producers: dict[str, int] = {}
    for index, request in enumerate(requests):
        for output in outputs(request, names):
            producers.setdefault(output, index)
    edges: Edges = []
    for index, request in enumerate(requests):
        if request.depends_on is not None:
            edges.append(list(dict.fromkeys(request.depends_on)))
            continue
        found = (producers.get(name) for name in inputs(request))
        edges.append(list(dict.fromkeys(i for i in found if i is not None and i != index)))
    return edges


def check_edges(edges: Edges) -> None:
    """FieldProblem for an index out of range or a cycle, naming the request's field."""
    for index, wanted in enumerate(edges):
        for upstream in wanted:
            if upstream >= len(edges) or upstream == index:
                reason = f"{upstream} is not another request (0..{len(edges) - 1})"
                raise FieldProblem(f"requests[{index}].depends_on", reason)
    cycle = _first_cycle(edges)
    if cycle is not None:
        path = " -> ".join(f"requests[{i}]" for i in cycle)
        raise FieldProblem(f"requests[{cycle[0]}].depends_on", f"forms a cycle: {path}")


def _first_cycle(edges: Edges) -> list[int] | None:
    """A cycle as a path that returns to its start, or None (at most 20 requests)."""
    done: set[int] = set()

    def visit(node: int, path: list[int]) -> list[int] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for upstream in edges[node]:
            found = visit(upstream, [*path, node])
            if found is not None:
                return found
        done.add(node)
        return None

    return next((c for root in range(len(edges)) if (c := visit(root, [])) is not None), None)


def topological(edges: Edges) -> list[int]:
    """The request indexes, every request after those it waits for (edges are a DAG)."""
    ordered: list[int] = []
    placed: set[int] = set()
    while len(ordered) < len(edges):
        ready = [i for i, wanted in enumerate(edges) if i not in placed and placed >= set(wanted)]
        if not ready:  # a cycle (never validated): the rest in request order
            ready = [i for i in range(len(edges)) if i not in placed]
        ordered.extend(ready)
        placed.update(ready)
    return ordered
