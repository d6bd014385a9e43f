"""Shared fixtures: the embedded broker (session), apps on SQLite, jobs, the Kubernetes
emulator, the fake Binance REST server."""

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.kube",
    "tests.fixtures.app",
    "tests.fixtures.jobs",
    "tests.fixtures.arango",
    "tests.fixtures.binance",
]
