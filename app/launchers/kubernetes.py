"""KubernetesLauncher: one batch/v1 Job per JobSpec, followed by a watch.

Launch is idempotent by name: a retried launch (or a second replica) gets 409 and adopts
the existing Job. Every Kubernetes failure leaves here as one of our errors (k8s_errors).
"""

from __future__ import annotations

import asyncio
import time

from kubernetes import client

from app.aio import Backoff, Supervisor
from app.config import Settings
from app.errors import AlreadyExists, JobNotFound, LauncherUnavailable, QueueManagerError
from app.launchers.base import JobPhase, JobSpec, OutcomeHandler
from app.launchers.k8s_api import Json, KubeApi
from app.launchers.k8s_client import api_client_from_environment
from app.launchers.k8s_render import QUEUE_ID, label_value, queue_selector, render_job
from app.launchers.k8s_status import name_of, phase_of, queue_of
from app.launchers.k8s_watch import JobWatcher
from app.launchers.targets import TargetSpec, not_runnable_in_cluster

STOP_POLL_SECONDS = 0.5
PING_TIMEOUT_SECONDS = 2.0


class KubernetesLauncher:
    """The JobLauncher for a cluster; `api_client` is a configured kubernetes ApiClient."""

    owns_jobs = False
    """Jobs belong to the cluster: they run on while the service restarts."""

    def __init__(
        self,
        settings: Settings,
        registry: dict[str, TargetSpec],
        api_client: client.ApiClient,
        *,
        supervisor: Supervisor | None = None,
        backoff: Backoff | None = None,
        watch_idle_timeout: float = 60.0,
    ) -> None:
        self._settings, self._registry = settings, registry
        self._supervisor = supervisor or Supervisor()
        """The service's supervisor runs the watch; a launcher on its own gets its own."""
        self._api = KubeApi(api_client, settings.k8s_namespace)
        self._api_client = api_client
        self._owned_client: client.ApiClient | None = None
        self._backoff = backoff or Backoff(initial=0.5, cap=30.0)
        self._idle_timeout = watch_idle_timeout
        self.watcher: JobWatcher | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        registry: dict[str, TargetSpec],
        supervisor: Supervisor | None = None,
    ) -> KubernetesLauncher:
        """The launcher of a Deployment: its service account in-cluster, else a kubeconfig."""
        api_client = api_client_from_environment(settings.kubeconfig)
        launcher = cls(settings, registry, api_client, supervisor=supervisor)
        launcher._owned_client = launcher._api_client  # made here, so closed here
        return launcher

    async def start(self, on_outcome: OutcomeHandler) -> None:
        """Start the watch; it reports every Job that ends or vanishes to `on_outcome`."""
        if self.watcher is None:
            self.watcher = JobWatcher(
                self._api,
                on_outcome,
                supervisor=self._supervisor,
                backoff=self._backoff,
                idle_timeout=self._idle_timeout,
            )
            self.watcher.start()

    async def close(self) -> None:
        """Stop the watch; Jobs keep running (they belong to the cluster, not to us)."""
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            await watcher.close()
        owned, self._owned_client = self._owned_client, None
        if owned is not None:
            await asyncio.to_thread(owned.close)

    def cannot_run(self, target: str) -> str | None:
        return not_runnable_in_cluster(target, self._registry.get(target))

    async def launch(self, spec: JobSpec) -> str:
        """Create the Job, or adopt the one already there; returns its uid (else its name)."""
        manifest = render_job(spec, self._registry.get(spec.target), self._settings)
        try:
            job = await self._api.create_job(manifest)
        except AlreadyExists:
            job = await self._api.read_job(spec.name)
        return str(job.get("metadata", {}).get("uid") or name_of(job))

    async def stop(self, queue_id: str, names: list[str], grace_seconds: float) -> None:
        """Give the Jobs the grace period to finish on their own, then delete the rest."""
        running = await self._wait_for_end(queue_id, names, grace_seconds)
        await asyncio.gather(*(self._api.delete_job(name) for name in running))

    async def _wait_for_end(self, queue_id: str, names: list[str], grace: float) -> list[str]:
        """The names still running when the grace period is over (or all have ended)."""
        deadline = time.monotonic() + grace
        while True:
            phases = await self.observe(queue_id, names)
            running = [name for name, phase in phases.items() if phase is JobPhase.RUNNING]
            remaining = deadline - time.monotonic()
            if not running or remaining <= 0:
                return running
            await asyncio.sleep(min(STOP_POLL_SECONDS, remaining))

    async def reclaim(self, queue_id: str, names: list[str]) -> None:
        """Nothing to do: a Job outlives us and is adopted by its (deterministic) name."""

    async def observe(self, queue_id: str, names: list[str]) -> dict[str, JobPhase]:
        """The phase of each named Job of the queue now; MISSING when it does not exist."""
        jobs = {name_of(job): job for job in await self._queue_jobs(queue_id)}
        return {
            name: phase_of(jobs[name])[0] if name in jobs else JobPhase.MISSING for name in names
        }

    async def _queue_jobs(self, queue_id: str) -> list[Json]:
        listing = await self._api.list_jobs(queue_selector(queue_id))
        return [job for job in listing.get("items") or [] if queue_of(job) == queue_id]

    async def logs(self, queue_id: str, name: str, tail: int) -> list[str]:
        """The log tail of the Job's newest pod; JobNotFound when it has no pod."""
        pod = _newest(await self._job_pods(queue_id, name))
        if pod is None:
            raise JobNotFound(f"job {name} of queue {queue_id} has no pod")
        text = await self._api.read_log(name_of(pod), tail)
        return text.splitlines()[-tail:] if tail > 0 else []

    async def _job_pods(self, queue_id: str, name: str) -> list[Json]:
        pods = await self._api.list_pods(f"job-name={name}")
        return [
            pod
            for pod in pods
            if _labels(pod).get("job-name") == name
            and _labels(pod).get(QUEUE_ID) == label_value(queue_id)
        ]

    async def ping(self) -> None:
        """A cheap list with a short timeout; any failure means the platform is unavailable."""
        try:
            await self._api.list_jobs(queue_selector("ping"), request_timeout=PING_TIMEOUT_SECONDS)
        except QueueManagerError as error:
            raise LauncherUnavailable(error.message) from error


def _labels(obj: Json) -> dict[str, str]:
    labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}
    return labels


def _newest(pods: list[Json]) -> Json | None:
    stamp = lambda pod: str(pod.get("metadata", {}).get("creationTimestamp") or "")  # noqa: E731
    return max(pods, key=stamp, default=None)
