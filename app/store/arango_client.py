"""python-arango plumbing shared by the queue store and the connector's document store.

One attempt per call: python-arango's DefaultHTTPClient retries each request 3 times with
backoff (urllib3 Retry on connection errors and 429/5xx of GET) and its host resolver tries
3 more times, so a 5 s timeout became 18 s against a refused port. Here the session makes
one attempt and the resolver one try; the callers' own retry policy decides what follows.

Every failure leaves as one of our errors (`arango_errors`), whatever raised it: an
ArangoDB error answer, a python-arango client error, or the transport (requests and socket
errors, python-arango's ConnectionAbortedError).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from arango.client import ArangoClient, default_serializer
from arango.collection import StandardCollection
from arango.database import StandardDatabase
from arango.exceptions import (
    ArangoClientError,
    ArangoServerError,
    CollectionCreateError,
    DatabaseCreateError,
    DatabasePropertiesError,
)
from arango.http import DefaultHTTPAdapter, DefaultHTTPClient
from requests import RequestException, Session

from app.config import StoreSettings
from app.errors import QueueManagerError, StoreUnavailable

DUPLICATE_NAME = 1207
DATABASE_NOT_FOUND = 1228


class OneAttemptHTTPClient(DefaultHTTPClient):
    """DefaultHTTPClient whose session never retries (`max_retries=0`): an answer, whatever
    its status, comes back as it is; a connection failure is raised at once."""

    def create_session(self, host: str) -> Session:
        adapter = DefaultHTTPAdapter(
            connection_timeout=self.request_timeout,
            pool_connections=self._pool_connections,
            pool_maxsize=self._pool_maxsize,
            max_retries=0,
        )
        session = Session()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session


def arango_client(
    url: str, timeout_seconds: float, serializer: Callable[[Any], str] = default_serializer
) -> ArangoClient:
    """A client for ARANGO_URL (comma-separated coordinators) making one attempt per host
    and call, each bounded by `timeout_seconds`; `serializer` writes request bodies."""
    hosts = [host.strip() for host in url.split(",") if host.strip()]
    return ArangoClient(
        hosts=hosts,
        resolver_max_tries=len(hosts),
        http_client=OneAttemptHTTPClient(request_timeout=timeout_seconds),
        serializer=serializer,
    )


def database(
    client: ArangoClient, settings: StoreSettings, name: str | None = None
) -> StandardDatabase:
    """A handle on ARANGO_DB (or `name`) with ARANGO_USER's credentials; no request yet."""
    return client.db(
        name or settings.arango_db,
        username=settings.arango_user,
        password=settings.arango_password.get_secret_value(),
    )


@contextmanager
def arango_errors(action: str) -> Iterator[None]:
    """Re-raise any python-arango, requests or socket failure as StoreUnavailable."""
    try:
        yield
    except QueueManagerError:
        raise
    except ArangoServerError as error:
        raise StoreUnavailable(f"ArangoDB could not {action}: {describe(error)}") from error
    except (ArangoClientError, RequestException, OSError) as error:
        detail = str(error) or type(error).__name__
        raise StoreUnavailable(f"ArangoDB unreachable ({action}): {detail}") from error


def describe(error: ArangoServerError) -> str:
    """The server's answer in words; 401 and 403 say which permission to check."""
    if error.http_code == 401:
        return (
            "401 not authorized: check ARANGO_USER and ARANGO_PASSWORD, and that the user "
            "has access to the database"
        )
    if error.http_code == 403:
        return f"403 forbidden: the user lacks the permission ({error.error_message})"
    code = f" error {error.error_code}" if error.error_code else ""
    return f"HTTP {error.http_code}{code}: {error.error_message or error.message}"


def prepare_database(client: ArangoClient, settings: StoreSettings) -> StandardDatabase:
    """ARANGO_DB, created from `_system` only when it is missing (a user granted on its own
    database alone never touches `_system`); a concurrent creator is fine."""
    target = database(client, settings)
    if not _exists(target):
        _create_database(client, settings)
    return target


def _exists(target: StandardDatabase) -> bool:
    try:
        target.properties()
    except DatabasePropertiesError as error:
        if error.error_code == DATABASE_NOT_FOUND:
            return False
        raise
    return True


def _create_database(client: ArangoClient, settings: StoreSettings) -> None:
    system = database(client, settings, "_system")
    try:
        system.create_database(settings.arango_db)
    except DatabaseCreateError as error:
        if error.error_code == DUPLICATE_NAME:
            return
        if error.http_code in (401, 403):
            raise StoreUnavailable(
                f"ArangoDB database {settings.arango_db} does not exist and user "
                f"{settings.arango_user} may not create it: create it, or grant the user "
                "access to _system"
            ) from error
        raise


def ensure_collections(target: StandardDatabase, names: Iterable[str]) -> None:
    """Create the missing collections; one created meanwhile by another replica is fine."""
    present = {collection["name"] for collection in target.collections()}  # type: ignore[union-attr]
    for name in names:
        if name not in present:
            create_collection(target, name)


def create_collection(target: StandardDatabase, name: str) -> None:
    try:
        target.create_collection(name)
    except CollectionCreateError as error:
        if error.error_code != DUPLICATE_NAME:
            raise


def ensure_indexes(collection: StandardCollection, indexes: Iterable[list[str]]) -> None:
    """Add the missing persistent indexes (listing first: adding needs Administrate)."""
    present = {tuple(i["fields"]) for i in collection.indexes() if i["type"] == "persistent"}  # type: ignore[union-attr]
    for fields in indexes:
        if tuple(fields) not in present:
            collection.add_index({"type": "persistent", "fields": fields})
