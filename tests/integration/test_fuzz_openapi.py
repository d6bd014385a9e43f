"""Schemathesis against the service's own OpenAPI schema, on the real `queue-manager serve`.

Must hold: for every documented route and a bounded, deterministic set of generated inputs
(valid and invalid), no answer is a 5xx, every status code is documented, and every answer's
content type and body match the schema. Jobs the fuzzer starts are harmless (`exit 0` for
every target, registered through TARGETS_FILE). The WebSocket route is not in the schema.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.config import Settings
from app.main import create_app
from app.models.catalog import Target
from tests.fixtures.service import ServiceProcess, own_env, service

TOKEN = "fuzz-token"
HARMLESS = ["python", "-m", "tests.jobs.scripted", "exit", "0"]
EXAMPLES = 40
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def fuzzed_service(
    tmp_path_factory: pytest.TempPathFactory, broker: Any
) -> Iterator[ServiceProcess]:
    root = tmp_path_factory.mktemp("fuzz")
    harmless = {target.value: {"command": HARMLESS} for target in Target}
    env = {**own_env(root, broker.bootstrap, harmless), "API_TOKENS": TOKEN, "LOG_LEVEL": "WARNING"}
    with service(env, root / "service.log") as running:
        yield running


@pytest.fixture(scope="module")
def answers() -> Counter[int]:
    """Status codes seen by the fuzz runs of this module."""
    return Counter()


@pytest.fixture(scope="module")
def api_schema(fuzzed_service: ServiceProcess) -> Any:
    """The schema as the running service serves it (not a copy built in the test)."""
    return schemathesis.openapi.from_url(f"{fuzzed_service.url}/openapi.json")


def _documented_operations() -> list[tuple[str, str]]:
    document = create_app(Settings(_env_file=None)).openapi()
    return [
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    ]


OPERATIONS = _documented_operations()


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_server_errors_and_answers_match_the_schema(
    api_schema: Any,
    fuzzed_service: ServiceProcess,
    method: str,
    path: str,
    mode: GenerationMode,
    answers: Counter[int],
) -> None:
    """Each route, with EXAMPLES valid (positive) and EXAMPLES invalid (negative) inputs,
    deterministic (derandomized): no 5xx, a documented status code, the documented content
    type and body."""
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def check(case: Any) -> None:
        response = case.call(
            base_url=fuzzed_service.url, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        answers[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    check()


def test_the_fuzzer_reached_past_validation(answers: Counter[int]) -> None:
    """The fuzz runs above were not all refused at the door: some inputs were accepted
    (200) and some refused as invalid (422). Runs after them (file order)."""
    assert answers[200] > 0 and answers[422] > 0, answers


def test_the_fuzzer_drives_every_queue_route() -> None:
    """A guard against a schema that silently lost routes: the queue routes, health and
    metrics are all among the fuzzed operations (the WebSocket route is not in OpenAPI)."""
    paths = {path for _, path in OPERATIONS}
    assert {
        "/queues/start",
        "/queues/stop",
        "/queues",
        "/queues/{queue_id}",
        "/queues/{queue_id}/logs",
        "/health/ready",
        "/metrics",
    } <= paths
    assert "/ws/topic" not in paths
