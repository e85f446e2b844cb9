"""A minimal FHIR R4 server for tests: real HTTP on loopback, no dependencies.

Start it with the resources it should hold (and, optionally, the bearer token it demands)::

    from tests.ingest.fhir_server import serve_fhir

    chart = [patient, condition, observation]  # FHIR resources as dicts
    with serve_fhir(chart, token="s3cret") as server:
        server.base_url          # "http://127.0.0.1:PORT/fhir": the FHIR base URL to pass on
        ...                      # e.g. fetch_patient_bundle(server.base_url, "p1", token="s3cret")
        server.requests          # every request it got, in order (RecordedRequest)
        server.requests[0].headers["authorization"]   # "Bearer s3cret"

``resources`` may be a list of resources, a Bundle (its entries' resources), or a dict of
resource type → list of resources. A resource belongs to the patient its ``subject`` (or
``patient``) reference names: ``Patient/ID``, ``[base]/Patient/ID`` or ``urn:uuid:ID`` (Synthea's
bundles) all work.

What it serves (under ``base_path``, ``/fhir`` unless told otherwise):

* ``GET /metadata``: a small CapabilityStatement (never needs the token).
* ``GET /Patient/{id}``: the Patient, or 404 with an OperationOutcome (``not-found``).
* ``GET /{Type}?patient={id}&_count=N`` (``patient=Patient/{id}`` and ``subject=Patient/{id}``
  too; other parameters such as ``category`` are ignored): a ``searchset`` Bundle with ``total``,
  ``N`` entries a page (at most ``max_page_size`` when set), and a ``next`` link while more pages
  remain (``_offset`` counts the entries already sent). ``links`` picks how the next link is
  written: ``"absolute"`` (default), ``"relative"`` (``Condition?…``, relative to the base) or
  ``"path"`` (``/fhir/Condition?…``); ``link_origin`` (e.g. ``"http://elsewhere.example"``) puts
  the absolute links on another origin, to test that clients refuse to follow them.
* With ``token`` set, every request but ``/metadata`` needs ``Authorization: Bearer <token>``;
  otherwise it answers 401 with ``WWW-Authenticate: Bearer …`` (``error="invalid_token"`` when a
  wrong token was sent) and an OperationOutcome (``login``). Set ``server.token`` to a new value
  while it runs to make the old token "expire".
* ``server.set_reply(path, status, body, content_type)``: a fixed answer for one path (without
  its query), e.g. an HTML login page, a 500, or a Bundle you wrote by hand.

``server.add(resource, ...)`` holds more resources while it runs. Everything it got is in
``server.requests`` (method, path, query, lower-cased headers), ``server.paths()`` lists the
paths alone, ``server.clear_requests()`` empties them. The server runs in a daemon thread on a
free port of 127.0.0.1 and stops when the ``with`` block ends (or on ``server.stop()``); its
``base_url`` then answers nothing, which is how tests get an unreachable server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

JSON = dict[str, Any]
FHIR_JSON = "application/fhir+json; charset=utf-8"
LinkStyle = Literal["absolute", "relative", "path"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server got it."""

    method: str
    path: str  # without the query, e.g. "/fhir/Condition"
    query: dict[str, list[str]]  # parsed query string
    headers: dict[str, str]  # lower-cased names

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> JSON:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def _as_list(resources: Iterable[JSON] | Mapping[str, Iterable[JSON]] | JSON) -> list[JSON]:
    if isinstance(resources, Mapping):
        if resources.get("resourceType") == "Bundle":
            return [e["resource"] for e in resources.get("entry") or [] if "resource" in e]
        if "resourceType" in resources:  # one resource
            return [dict(resources)]
        return [r for group in resources.values() for r in group]
    return list(resources)


def _patient_key(reference: object) -> str | None:
    """``Patient/X``, ``http://…/Patient/X`` or ``urn:uuid:X`` → ``X``."""
    if not isinstance(reference, str):
        return None
    if reference.startswith("urn:uuid:"):
        return reference.removeprefix("urn:uuid:")
    parts = reference.split("/_history/")[0].split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == "Patient" else None


def _owner(resource: JSON) -> str | None:
    for name in ("subject", "patient"):
        value = resource.get(name)
        key = _patient_key(value.get("reference")) if isinstance(value, dict) else None
        if key is not None:
            return key
    return None


@dataclass
class FhirTestServer:
    """See the module docstring. Use :func:`serve_fhir`, or ``with FhirTestServer(...)``."""

    resources: Iterable[JSON] | Mapping[str, Iterable[JSON]] | JSON = ()
    token: str | None = None
    base_path: str = "/fhir"
    max_page_size: int | None = None
    default_page_size: int = 50
    links: LinkStyle = "absolute"
    link_origin: str | None = None
    requests: list[RecordedRequest] = field(default_factory=list, init=False)
    _replies: dict[str, tuple[int, bytes, str]] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _httpd: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _port: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_path = "/" + self.base_path.strip("/") if self.base_path.strip("/") else ""
        self._all = _as_list(self.resources)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> FhirTestServer:
        handler = type("Handler", (_Handler,), {"fhir": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() waits for one poll
            name="fhir-test-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FhirTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        """Its port (kept after it stops: a URL that nothing answers any more)."""
        if self._port is None:
            raise RuntimeError("the FHIR test server was never started")
        return self._port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The FHIR base URL (no trailing slash), e.g. ``http://127.0.0.1:PORT/fhir``."""
        return self.origin + self.base_path

    def add(self, *resources: JSON) -> None:
        """Hold more resources (while running too)."""
        with self._lock:
            self._all.extend(resources)

    def set_reply(
        self,
        path: str,
        status: int = 200,
        body: bytes | str | JSON = b"",
        content_type: str = FHIR_JSON,
    ) -> None:
        """Answer ``GET path`` (the full path, e.g. ``/fhir/Condition``; any query) this way."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        raw = data.encode() if isinstance(data, str) else data
        with self._lock:
            self._replies[path] = (status, raw, content_type)

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def paths(self) -> list[str]:
        """The paths requested so far, in order (without queries)."""
        with self._lock:
            return [r.path for r in self.requests]

    # -- answers ----------------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _patient(self, pid: str) -> JSON | None:
        with self._lock:
            return next(
                (r for r in self._all if r.get("resourceType") == "Patient" and r.get("id") == pid),
                None,
            )

    def _search(self, kind: str, pid: str) -> list[JSON]:
        with self._lock:
            return [r for r in self._all if r.get("resourceType") == kind and _owner(r) == pid]

    def _link(self, kind: str, query: dict[str, str]) -> str:
        relative = f"{kind}?{urlencode(query)}"
        if self.links == "relative":
            return relative
        if self.links == "path":
            return f"{self.base_path}/{relative}"
        return f"{(self.link_origin or self.origin).rstrip('/')}{self.base_path}/{relative}"

    def searchset(self, kind: str, query: dict[str, list[str]]) -> JSON:
        first = {k: v[0] for k, v in query.items() if v}
        wanted = first.get("patient") or first.get("subject") or ""
        pid = _patient_key(wanted) or wanted
        matches = self._search(kind, pid) if pid else []
        try:
            count = int(first.get("_count", self.default_page_size))
            offset = int(first.get("_offset", 0))
        except ValueError:
            count, offset = self.default_page_size, 0
        count = max(1, count if self.max_page_size is None else min(count, self.max_page_size))
        page = matches[offset : offset + count]
        bundle: JSON = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(matches),
            "link": [{"relation": "self", "url": self._link(kind, first)}],
            "entry": [
                {
                    "fullUrl": f"{self.base_url}/{kind}/{r.get('id')}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in page
            ],
        }
        if offset + count < len(matches):
            after = {**first, "_count": str(count), "_offset": str(offset + count)}
            bundle["link"].append({"relation": "next", "url": self._link(kind, after)})
        return bundle

    def metadata(self) -> JSON:
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{"mode": "server"}],
        }


class _Handler(BaseHTTPRequestHandler):
    fhir: FhirTestServer  # set on the subclass made for each server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read ``requests``

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        request = RecordedRequest(
            method="GET",
            path=url.path,
            query=parse_qs(url.query),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        self.fhir._record(request)
        with self.fhir._lock:
            fixed = self.fhir._replies.get(url.path)
        if fixed is not None:
            self._send(fixed[0], fixed[1], fixed[2])
            return
        base = self.fhir.base_path
        if not url.path.startswith(base + "/"):
            self._json(404, operation_outcome("not-found", f"no such path {url.path}"))
            return
        parts = [p for p in url.path[len(base) :].split("/") if p]
        if parts == ["metadata"]:
            self._json(200, self.fhir.metadata())
            return
        if not self._authorized(request):
            return
        if len(parts) == 2 and parts[0] == "Patient":
            found = self.fhir._patient(parts[1])
            if found is None:
                self._json(404, operation_outcome("not-found", f"Patient/{parts[1]} is not known"))
            else:
                self._json(200, found)
            return
        if len(parts) == 1 and parts[0][:1].isupper():
            self._json(200, self.fhir.searchset(parts[0], request.query))
            return
        self._json(404, operation_outcome("not-supported", f"no such operation {url.path}"))

    def _authorized(self, request: RecordedRequest) -> bool:
        token = self.fhir.token
        if token is None:
            return True
        sent = request.authorization
        if sent == f"Bearer {token}":
            return True
        challenge = 'Bearer realm="fhir"' + (', error="invalid_token"' if sent else "")
        outcome = operation_outcome("login", "a valid bearer token is required")
        self._json(401, outcome, {"WWW-Authenticate": challenge})
        return False

    def _json(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), FHIR_JSON, headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_fhir(
    resources: Iterable[JSON] | Mapping[str, Iterable[JSON]] | JSON = (),
    *,
    token: str | None = None,
    base_path: str = "/fhir",
    max_page_size: int | None = None,
    links: LinkStyle = "absolute",
    link_origin: str | None = None,
) -> Iterator[FhirTestServer]:
    """A running :class:`FhirTestServer` for the ``with`` block (see the module docstring)."""
    server = FhirTestServer(
        resources,
        token=token,
        base_path=base_path,
        max_page_size=max_page_size,
        links=links,
        link_origin=link_origin,
    )
    with server:
        yield server
