"""Shared fixtures: the embedded broker (session), apps on SQLite, test job programs."""

pytest_plugins = ["tests.fixtures.broker", "tests.fixtures.kube", "tests.fixtures.app"]
