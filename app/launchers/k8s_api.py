"""The Kubernetes calls of the launcher, async and in our own errors.

The kubernetes client is synchronous: each call runs in a worker thread, with a request
timeout so no thread hangs forever. Objects come back as plain dicts with the API's own
camelCase keys, the same shape the watch stream delivers, so one parser serves both.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from typing import Any

from kubernetes import client
from urllib3 import HTTPResponse

from app.errors import JobNotFound
from app.launchers.k8s_errors import API_CALLS, translate

Json = dict[str, Any]


class KubeApi:
    """Namespaced Job and Pod calls; every one is listed in `API_CALLS`."""

    def __init__(self, api_client: client.ApiClient, namespace: str, timeout: float = 10.0):
        self.namespace = namespace
        self.host = str(api_client.configuration.host)
        self._batch = client.BatchV1Api(api_client)
        self._core = client.CoreV1Api(api_client)
        self._timeout = timeout

    async def _run(self, call: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one client method in a thread; its failure becomes one of our errors."""
        kwargs.setdefault("_request_timeout", self._timeout)
        try:
            return await asyncio.to_thread(functools.partial(method, *args, **kwargs))
        except Exception as error:
            raise translate(error, API_CALLS[call], self.namespace) from error

    async def _json(self, call: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Json:
        """Like `_run`, but the raw JSON body: the client's model classes cost more than the
        HTTP round trip, and the watch delivers the same plain dicts anyway."""

        def fetch(*fetch_args: Any, **fetch_kwargs: Any) -> Json:
            response = method(*fetch_args, _preload_content=False, **fetch_kwargs)
            try:
                body: Json = json.loads(response.data)
            finally:
                response.release_conn()
            return body

        result: Json = await self._run(call, fetch, *args, **kwargs)
        return result

    async def create_job(self, manifest: Json) -> Json:
        return await self._json(
            "create_namespaced_job", self._batch.create_namespaced_job, self.namespace, manifest
        )

    async def read_job(self, name: str) -> Json:
        return await self._json(
            "read_namespaced_job", self._batch.read_namespaced_job, name, self.namespace
        )

    async def list_jobs(self, selector: str, request_timeout: float | None = None) -> Json:
        """The list with its `metadata.resourceVersion`, to watch from."""
        return await self._json(
            "list_namespaced_job",
            self._batch.list_namespaced_job,
            self.namespace,
            label_selector=selector,
            _request_timeout=request_timeout or self._timeout,
        )

    async def delete_job(self, name: str) -> bool:
        """Delete with Background propagation (pods go too); False when already gone."""
        try:
            await self._run(
                "delete_namespaced_job",
                self._batch.delete_namespaced_job,
                name,
                self.namespace,
                propagation_policy="Background",
            )
        except JobNotFound:
            return False
        return True

    async def list_pods(self, selector: str) -> list[Json]:
        pods = await self._json(
            "list_namespaced_pod",
            self._core.list_namespaced_pod,
            self.namespace,
            label_selector=selector,
        )
        items: list[Json] = pods.get("items") or []
        return items

    async def read_log(self, pod: str, tail: int) -> str:
        text = await self._run(
            "read_namespaced_pod_log",
            self._core.read_namespaced_pod_log,
            pod,
            self.namespace,
            tail_lines=tail,
        )
        return str(text)

    async def open_watch(
        self, selector: str, resource_version: str, idle_timeout: float
    ) -> HTTPResponse:
        """An open watch stream of events, one JSON per line; the caller closes it.

        `idle_timeout` bounds the wait for the next line: a quiet stream ends with a read
        timeout and is simply reopened (the server-side timeoutSeconds is a backstop).
        """
        response: HTTPResponse = await self._run(
            "watch_namespaced_job",
            self._batch.list_namespaced_job,
            self.namespace,
            label_selector=selector,
            resource_version=resource_version,
            watch=True,
            allow_watch_bookmarks=True,
            timeout_seconds=300,
            _preload_content=False,
            _request_timeout=(self._timeout, idle_timeout),
        )
        return response
