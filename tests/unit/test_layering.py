"""Ports stay ports: outside app/bus nothing names the Kafka adapter, it asks for a Bus."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def kafka_adapter_users() -> list[str]:
    """Modules outside app/bus that import app.bus.kafka or the name KafkaBus."""
    users = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        if path.parent.name == "bus":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (
                node.module == "app.bus.kafka" or any(a.name == "KafkaBus" for a in node.names)
            ):
                users.append(path.relative_to(ROOT).as_posix())
    return users


def test_only_the_bus_package_names_the_kafka_adapter() -> None:
    assert kafka_adapter_users() == []
