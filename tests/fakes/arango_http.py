"""A small ArangoDB: answers as ArangoDB's HTTP API does, for exactly the calls our adapters
make (python-arango 8.x drives it unchanged), the way kmock stands in for the API server.

What it follows from ArangoDB's documented API (3.11) and its request handling
(`CommTask::prepareExecution`):
- `/_db/<name>/...` addresses a database; without it, `_system`. Path segments are
  percent-decoded, as the server does.
- Basic authentication. Bad credentials, or a database the user has no access to: 401,
  errorNum 11 "not authorized to execute this request". A database that does not exist:
  404 errorNum 1228 if the user could see it, else the same 401 (no guessing of names).
- Structure changes (create a collection or an index) need `rw` on the database, writes
  need `rw` on the collection (403, errorNum 11); database management only in `_system`.
- Errors are `{"error": true, "errorNum", "errorMessage", "code"}`; bulk answers carry
  per-document errors and an `X-Arango-Error-Codes` header.
- Documents get `_key`, `_id`, `_rev`; keys follow the documented rules (1-254 bytes of
  letters, digits and `_-:.@()+,=;$!*'%`), else 400 errorNum 1221.
- AQL: only the fixed queries our adapters send (tests/fakes/arango_aql.py); anything else
  is a 400 syntax error, so a changed query cannot pass unnoticed.

Faults for tests: `fake.fail(method, path_regex, action)` answers the next matching request
with `action` (a canned reply, `ABORT` to drop the connection, `stall(seconds)`), or runs a
side effect first (`before(callable)`). `fake.requests` records every request.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from tests.fakes.arango_aql import AqlError, run_query

Json = dict[str, Any]
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-:.@()+,=;$!*'%]{1,254}$")
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
VERSION = {"server": "arango", "license": "community", "version": "3.11.14"}
BATCH_SIZE = 1000


class ArangoFailure(Exception):
    """An error answer: HTTP status, ArangoDB errorNum and message (plus extra fields)."""

    def __init__(self, status: int, error_num: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error_num, self.message, self.extra = status, error_num, message, extra

    def body(self) -> Json:
        return {
            "error": True,
            "errorNum": self.error_num,
            "errorMessage": self.message,
            "code": self.status,
            **self.extra,
        }


def not_authorized() -> ArangoFailure:
    return ArangoFailure(401, 11, "not authorized to execute this request")


def forbidden() -> ArangoFailure:
    return ArangoFailure(403, 11, "forbidden")


def collection_not_found(name: str) -> ArangoFailure:
    return ArangoFailure(404, 1203, f"collection or view not found: {name}")


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, body: Any, **headers: str) -> Reply:
        return cls(status, orjson.dumps(body), headers=headers)


@dataclass
class Request:
    method: str
    database: str
    path: str
    """Decoded segments after the database prefix, joined by '/' (e.g. `_api/document/c/k`)."""
    params: dict[str, str]
    headers: dict[str, str]
    body: Any
    user: str | None
    password: str

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        return default if value is None else value.lower() in ("1", "true", "yes")


ABORT = "abort"
Action = Callable[["Request"], "Reply | str | None"]


def stall(seconds: float) -> Action:
    """Answer only after `seconds` (a client with a shorter timeout gives up first)."""

    def act(request: Request) -> None:
        threading.Event().wait(seconds)

    return act


def reply(status: int, text: str, content_type: str = "text/html") -> Action:
    """A canned answer, e.g. a proxy's HTML 502 without any ArangoDB error code."""
    return lambda request: Reply(status, text.encode(), content_type)


def before(effect: Callable[[], object]) -> Action:
    """Run `effect` (another client's change), then answer the request normally."""

    def act(request: Request) -> None:
        effect()

    return act


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    action: Action
    times: int


@dataclass
class Collection:
    name: str
    id: str
    documents: dict[str, Json] = field(default_factory=dict)
    indexes: list[Json] = field(default_factory=list)

    def describe(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "status": 3,
            "type": 2,
            "isSystem": self.name.startswith("_"),
            "globallyUniqueId": f"h{self.id}/{self.name}",
        }


@dataclass
class Database:
    name: str
    id: str
    collections: dict[str, Collection] = field(default_factory=dict)

    def collection(self, name: str) -> Collection:
        found = self.collections.get(name)
        if found is None:
            raise collection_not_found(name)
        return found


@dataclass
class User:
    password: str
    grants: dict[str, str]
    """`db` or `*` -> rw | ro | none; `db/collection` for a collection's own level."""

    def database_level(self, database: str) -> str:
        return self.grants.get(database, self.grants.get("*", "none"))

    def collection_level(self, database: str, collection: str) -> str:
        own = self.grants.get(f"{database}/{collection}")
        return own or self.database_level(database)


class FakeArango:
    """The server's state and its answers; `serve()` puts it on a loopback port."""

    def __init__(self, *, authentication: bool = True) -> None:
        self.authentication = authentication
        self.users = {"root": User("", {"*": "rw"})}
        self._ids = itertools.count(100)
        self._revisions = itertools.count(1)
        self.databases = {"_system": Database("_system", "1")}
        self.cursors: dict[str, list[Any]] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, str]] = []
        self.lock = threading.RLock()
        self.url = ""

    # --- test controls -----------------------------------------------------------------
    def add_user(self, name: str, password: str, grants: dict[str, str]) -> None:
        self.users[name] = User(password, grants)

    def fail(self, method: str, path: str, action: Action | str, times: int = 1) -> None:
        """The next `times` requests matching `method` and the regex `path` get `action`."""
        act: Action = (lambda request: ABORT) if action == ABORT else action  # type: ignore[assignment]
        self.faults.append(Fault(method.upper(), re.compile(path), act, times))

    def create_database(self, name: str) -> Database:
        with self.lock:
            database = Database(name, str(next(self._ids)))
            self.databases[name] = database
            return database

    def calls(self, method: str, path: str) -> int:
        """How many requests matched `method` and the regex `path` so far."""
        pattern = re.compile(path)
        return sum(1 for m, _, p in self.requests if m == method.upper() and pattern.search(p))

    # --- answering ---------------------------------------------------------------------
    def answer(self, request: Request) -> Reply | str:
        with self.lock:
            self.requests.append((request.method, request.database, request.path))
            fault = self._fault_for(request)
        if fault is not None:
            outcome = fault.action(request)
            if outcome is not None:
                return outcome
        with self.lock:
            try:
                return self._route(request)
            except ArangoFailure as failure:
                return Reply.json(failure.status, failure.body())

    def _fault_for(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if fault.method == request.method and fault.path.search(request.path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _route(self, request: Request) -> Reply:
        database = self._authorized_database(request)
        for method, pattern, handler in ROUTES:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                return handler(self, request, database, *match.groups())
        raise ArangoFailure(404, 404, "unknown path")

    def _authorized_database(self, request: Request) -> Database:
        """Authentication, then the database and the user's access to it (CommTask)."""
        user = self._user(request)
        database = self.databases.get(request.database)
        level = user.database_level(request.database) if user else "rw"
        if database is None:
            if self.authentication and level == "none":
                raise not_authorized()
            raise ArangoFailure(404, 1228, "database not found")
        if self.authentication and level == "none":
            raise not_authorized()
        return database

    def _user(self, request: Request) -> User | None:
        if not self.authentication:
            return None
        user = self.users.get(request.user or "")
        if user is None or request.password != user.password:
            raise not_authorized()
        return user

    def require(self, request: Request, database: str, level: str, collection: str = "") -> None:
        """403 unless the user holds `rw` (or at least `ro`) where the request needs it."""
        user = self._user(request)
        if user is None:
            return
        held = user.collection_level(database, collection) if collection else None
        held = held or user.database_level(database)
        if (level == "rw" and held != "rw") or (level == "ro" and held == "none"):
            raise forbidden()

    def revision(self) -> str:
        return f"_r{next(self._revisions):010x}"

    def new_id(self) -> str:
        return str(next(self._ids))


# --- handlers: one per documented endpoint we use --------------------------------------


def version(fake: FakeArango, request: Request, db: Database) -> Reply:
    return Reply.json(200, VERSION)


def current_database(fake: FakeArango, request: Request, db: Database) -> Reply:
    result = {"name": db.name, "id": db.id, "path": "", "isSystem": db.name == "_system"}
    return Reply.json(200, {"error": False, "code": 200, "result": result})


def _system_only(db: Database) -> None:
    if db.name != "_system":
        raise ArangoFailure(403, 1230, "operation only allowed in system database")


def list_databases(fake: FakeArango, request: Request, db: Database) -> Reply:
    _system_only(db)
    return Reply.json(200, {"error": False, "code": 200, "result": sorted(fake.databases)})


def create_database(fake: FakeArango, request: Request, db: Database) -> Reply:
    _system_only(db)
    fake.require(request, "_system", "rw")
    name = (request.body or {}).get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ArangoFailure(400, 1229, "database name invalid")
    if name in fake.databases:
        raise ArangoFailure(409, 1207, "duplicate database name")
    fake.create_database(name)
    return Reply.json(201, {"error": False, "code": 201, "result": True})


def drop_database(fake: FakeArango, request: Request, db: Database, name: str) -> Reply:
    _system_only(db)
    fake.require(request, "_system", "rw")
    if fake.databases.pop(name, None) is None:
        raise ArangoFailure(404, 1228, "database not found")
    return Reply.json(200, {"error": False, "code": 200, "result": True})


def list_collections(fake: FakeArango, request: Request, db: Database) -> Reply:
    result = [c.describe() for c in db.collections.values()]
    return Reply.json(200, {"error": False, "code": 200, "result": result})


def create_collection(fake: FakeArango, request: Request, db: Database) -> Reply:
    fake.require(request, db.name, "rw")
    name = (request.body or {}).get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ArangoFailure(400, 1208, f"illegal name: {name!r}")
    if name in db.collections:
        raise ArangoFailure(409, 1207, f"duplicate name: {name}")
    collection = Collection(name, fake.new_id())
    primary = {"id": f"{name}/0", "type": "primary", "fields": ["_key"], "name": "primary"}
    collection.indexes.append({**primary, "unique": True, "sparse": False})
    db.collections[name] = collection
    return Reply.json(200, {"error": False, "code": 200, **collection.describe()})


def count(fake: FakeArango, request: Request, db: Database, name: str) -> Reply:
    collection = db.collection(name)
    fake.require(request, db.name, "ro", name)
    body = {
        "error": False,
        "code": 200,
        **collection.describe(),
        "count": len(collection.documents),
    }
    return Reply.json(200, body)


def list_indexes(fake: FakeArango, request: Request, db: Database) -> Reply:
    collection = db.collection(request.params.get("collection", ""))
    fake.require(request, db.name, "ro", collection.name)
    return Reply.json(200, {"error": False, "code": 200, "indexes": collection.indexes})


def create_index(fake: FakeArango, request: Request, db: Database) -> Reply:
    collection = db.collection(request.params.get("collection", ""))
    fake.require(request, db.name, "rw")
    wanted = request.body or {}
    definition = {
        "type": wanted.get("type"),
        "fields": wanted.get("fields"),
        "unique": bool(wanted.get("unique", False)),
        "sparse": bool(wanted.get("sparse", False)),
    }
    for index in collection.indexes:
        if all(index.get(k) == v for k, v in definition.items()):
            return Reply.json(200, {"error": False, "code": 200, **index, "isNewlyCreated": False})
    index_id = fake.new_id()
    index = {"id": f"{collection.name}/{index_id}", "name": f"idx_{index_id}", **definition}
    collection.indexes.append(index)
    return Reply.json(201, {"error": False, "code": 201, **index, "isNewlyCreated": True})


def insert(fake: FakeArango, request: Request, db: Database, name: str) -> Reply:
    collection = db.collection(name)
    fake.require(request, db.name, "rw", name)
    if isinstance(request.body, list):
        results = [_insert_one(fake, request, collection, doc) for doc in request.body]
        return _bulk_reply(request, results)
    result = _insert_one(fake, request, collection, request.body)
    if isinstance(result, ArangoFailure):
        raise result
    status = 201 if request.flag("waitForSync") else 202
    return Reply.json(status, {} if request.flag("silent") else result)


def _insert_one(
    fake: FakeArango, request: Request, collection: Collection, document: Any
) -> Json | ArangoFailure:
    if not isinstance(document, dict):
        return ArangoFailure(400, 1227, "invalid document type")
    key = document.get("_key", fake.new_id())
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key) or len(key.encode()) > 254:
        return ArangoFailure(400, 1221, "illegal document key")
    mode = request.params.get("overwriteMode") or ("replace" if request.flag("overwrite") else "")
    old = collection.documents.get(key)
    if old is not None and mode in ("", "conflict"):
        return ArangoFailure(
            409,
            1210,
            "unique constraint violated - in index primary of type primary over '_key'; "
            f"conflicting key: {key}",
        )
    if old is not None and mode == "ignore":
        return _meta(old)
    base = {**old, **document} if old is not None and mode == "update" else document
    clash = _unique_clash(collection, key, base)
    if clash is not None:
        return clash
    stored = _store(fake, collection, key, base)
    return _meta(stored) | ({"_oldRev": old["_rev"]} if old is not None else {})


def _unique_clash(collection: Collection, key: str, body: Json) -> ArangoFailure | None:
    """409 errorNum 1210 when another document holds the same values in a unique index."""
    for index in collection.indexes:
        if index.get("type") != "persistent" or not index.get("unique"):
            continue
        fields = index["fields"]
        values = [body.get(name) for name in fields]
        for other_key, other in collection.documents.items():
            if other_key != key and [other.get(name) for name in fields] == values:
                return ArangoFailure(
                    409,
                    1210,
                    f"unique constraint violated - in index {index['name']} of type persistent "
                    f"over '{', '.join(fields)}'; conflicting key: {other_key}",
                )
    return None


def _store(fake: FakeArango, collection: Collection, key: str, body: Json) -> Json:
    fields = {k: v for k, v in body.items() if k not in ("_key", "_id", "_rev")}
    stored = {"_key": key, "_id": f"{collection.name}/{key}", "_rev": fake.revision(), **fields}
    collection.documents[key] = stored
    return stored


def _meta(document: Json) -> Json:
    return {k: document[k] for k in ("_id", "_key", "_rev")}


def _bulk_reply(request: Request, results: list[Json | ArangoFailure]) -> Reply:
    errors: dict[str, int] = {}
    body: list[Json] = []
    for result in results:
        if isinstance(result, ArangoFailure):
            errors[str(result.error_num)] = errors.get(str(result.error_num), 0) + 1
            body.append(
                {"error": True, "errorNum": result.error_num, "errorMessage": result.message}
            )
        elif not request.flag("silent"):
            body.append(result)
    headers = {"X-Arango-Error-Codes": orjson.dumps(errors).decode()} if errors else {}
    return Reply.json(201 if request.flag("waitForSync") else 202, body, **headers)


def read(fake: FakeArango, request: Request, db: Database, name: str, key: str) -> Reply:
    collection = db.collection(name)
    fake.require(request, db.name, "ro", name)
    document = collection.documents.get(key)
    if document is None:
        raise ArangoFailure(404, 1202, "document not found")
    expected = request.headers.get("if-match")
    if expected is not None and expected.strip('"') != document["_rev"]:
        raise ArangoFailure(412, 1200, "conflict, _rev values do not match", **_meta(document))
    return Reply.json(200, document, ETag=f'"{document["_rev"]}"')


def replace(fake: FakeArango, request: Request, db: Database, name: str, key: str) -> Reply:
    collection = db.collection(name)
    fake.require(request, db.name, "rw", name)
    old = collection.documents.get(key)
    if old is None:
        raise ArangoFailure(404, 1202, "document not found")
    body = request.body if isinstance(request.body, dict) else {}
    expected = request.headers.get("if-match", "").strip('"') or (
        None if request.flag("ignoreRevs", default=True) else body.get("_rev")
    )
    if expected and expected != old["_rev"]:
        raise ArangoFailure(412, 1200, "conflict, _rev values do not match", **_meta(old))
    clash = _unique_clash(collection, key, body)
    if clash is not None:
        raise clash
    stored = _store(fake, collection, key, body)
    answer = {} if request.flag("silent") else {**_meta(stored), "_oldRev": old["_rev"]}
    return Reply.json(201 if request.flag("waitForSync") else 202, answer)


def remove(fake: FakeArango, request: Request, db: Database, name: str, key: str) -> Reply:
    """DELETE a document: 404 errorNum 1202 when missing, 412 errorNum 1200 when If-Match
    names another revision; the old document's meta (and `old` with returnOld)."""
    collection = db.collection(name)
    fake.require(request, db.name, "rw", name)
    old = collection.documents.get(key)
    if old is None:
        raise ArangoFailure(404, 1202, "document not found")
    expected = request.headers.get("if-match", "").strip('"')
    if expected and not request.flag("ignoreRevs") and expected != old["_rev"]:
        raise ArangoFailure(412, 1200, "conflict, _rev values do not match", **_meta(old))
    del collection.documents[key]
    answer = {} if request.flag("silent") else _meta(old)
    if request.flag("returnOld") and not request.flag("silent"):
        answer["old"] = old
    return Reply.json(200 if request.flag("waitForSync") else 202, answer)


def read_many(fake: FakeArango, request: Request, db: Database, name: str) -> Reply:
    if not request.flag("onlyget"):
        raise ArangoFailure(400, 10, "only onlyget=true is answered by this fake")
    collection = db.collection(name)
    fake.require(request, db.name, "ro", name)
    found: list[Json] = []
    for wanted in request.body or []:
        key = wanted.get("_key") if isinstance(wanted, dict) else wanted
        document = collection.documents.get(str(key))
        missing = {"error": True, "errorNum": 1202, "errorMessage": "document not found"}
        found.append(document if document is not None else missing)
    return Reply.json(200, found)


def cursor(fake: FakeArango, request: Request, db: Database) -> Reply:
    body = request.body or {}
    try:
        rows = run_query(str(body.get("query", "")), body.get("bindVars") or {}, db.collections)
    except AqlError as error:
        raise ArangoFailure(error.status, error.error_num, error.message) from None
    except KeyError as missing:
        raise collection_not_found(str(missing.args[0])) from None
    size = int(body.get("batchSize") or BATCH_SIZE)
    answer = _batch(fake, rows, size)
    if body.get("count"):
        answer["count"] = len(rows)
    return Reply.json(201, {**answer, "cached": False, "extra": {"warnings": [], "stats": {}}})


def _batch(fake: FakeArango, rows: list[Any], size: int, cursor_id: str | None = None) -> Json:
    head, rest = rows[:size], rows[size:]
    answer: Json = {"error": False, "code": 201, "result": head, "hasMore": bool(rest)}
    if rest:
        cursor_id = cursor_id or fake.new_id()
        fake.cursors[cursor_id] = rest
        answer["id"] = cursor_id
    elif cursor_id is not None:
        fake.cursors.pop(cursor_id, None)
    return answer


def next_batch(fake: FakeArango, request: Request, db: Database, cursor_id: str) -> Reply:
    rows = fake.cursors.get(cursor_id)
    if rows is None:
        raise ArangoFailure(404, 1600, "cursor not found")
    return Reply.json(200, {**_batch(fake, rows, BATCH_SIZE, cursor_id), "code": 200})


def drop_cursor(fake: FakeArango, request: Request, db: Database, cursor_id: str) -> Reply:
    if fake.cursors.pop(cursor_id, None) is None:
        raise ArangoFailure(404, 1600, "cursor not found")
    return Reply.json(202, {"error": False, "code": 202, "id": cursor_id})


SEGMENT = r"([^/]+)"
Handler = Callable[..., Reply]
_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", "_api/version", version),
    ("GET", "_api/database/current", current_database),
    ("GET", "_api/database", list_databases),
    ("POST", "_api/database", create_database),
    ("DELETE", f"_api/database/{SEGMENT}", drop_database),
    ("GET", "_api/collection", list_collections),
    ("POST", "_api/collection", create_collection),
    ("GET", f"_api/collection/{SEGMENT}/count", count),
    ("GET", "_api/index", list_indexes),
    ("POST", "_api/index", create_index),
    ("POST", f"_api/document/{SEGMENT}", insert),
    ("PUT", f"_api/document/{SEGMENT}", read_many),
    ("GET", f"_api/document/{SEGMENT}/{SEGMENT}", read),
    ("PUT", f"_api/document/{SEGMENT}/{SEGMENT}", replace),
    ("DELETE", f"_api/document/{SEGMENT}/{SEGMENT}", remove),
    ("POST", "_api/cursor", cursor),
    ("POST", f"_api/cursor/{SEGMENT}", next_batch),
    ("DELETE", f"_api/cursor/{SEGMENT}", drop_cursor),
]
ROUTES = [(method, re.compile(path), handler) for method, path, handler in _TABLE]


# --- HTTP ------------------------------------------------------------------------------


def parse_request(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Request:
    """Database prefix, decoded path segments, query, Basic credentials and JSON body."""
    url = urlsplit(raw_path)
    segments = [unquote(s) for s in url.path.split("/") if s]
    database = "_system"
    if len(segments) >= 2 and segments[0] == "_db":
        database, segments = segments[1], segments[2:]
    user, password = _credentials(headers.get("authorization", ""))
    payload = orjson.loads(body) if body else None
    query = dict(parse_qsl(url.query))
    return Request(method, database, "/".join(segments), query, headers, payload, user, password)


def _credentials(authorization: str) -> tuple[str | None, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None, ""
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    return user, password


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # headers and body leave in one write (no Nagle delay per answer)
    disable_nagle_algorithm = True
    fake: FakeArango

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            request = parse_request(self.command, self.path, headers, body)
        except ValueError:
            self._send(Reply.json(400, ArangoFailure(400, 600, "invalid JSON").body()))
            return
        outcome = self.fake.answer(request)
        if outcome == ABORT:
            self.close_connection = True
            return
        assert isinstance(outcome, Reply)
        try:
            self._send(outcome)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up first (a stall fault)

    def _send(self, answer: Reply) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


@contextmanager
def serve(fake: FakeArango | None = None, port: int = 0) -> Iterator[FakeArango]:
    """Run `fake` (a new one by default) on 127.0.0.1:<port> (default: a free one) until
    the block ends."""
    fake = fake or FakeArango()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-arango", daemon=True
    )
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
