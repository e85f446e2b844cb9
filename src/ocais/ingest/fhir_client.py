"""A small FHIR R4 REST client: one patient's record from an EHR's FHIR server, as a Bundle.

:func:`fetch_patient_bundle` reads ``GET {base}/Patient/{id}`` and searches ``GET
{base}/{Type}?patient={id}&_count=N`` for each resource type, following each searchset's
``Bundle.link`` of relation ``next`` (absolute, or relative to the server's base). It returns a
Bundle of type ``collection`` that :class:`~ocais.ingest.fhir.FhirReader` reads like any file, so
the record is de-identified before storage like every other import.

Security and privacy rules:

* The bearer token (``Authorization: Bearer …``, from :func:`read_token`) goes only to the origin
  (scheme, host, port) of the base URL: a ``next`` link to another origin is refused, and
  redirects are not followed.
* Error messages and log records never hold the token or the patient's resources; the patient id
  appears only as "the requested patient" (httpx's own request log lines are redacted while a
  fetch runs).

Errors: :class:`~ocais.errors.ConfigError` for a bad URL, an unreachable server, a refused token
(HTTP 401/403) or another failed request; :class:`~ocais.errors.NotFoundError` for a patient the
server does not have (or a resource type it does not serve);
:class:`~ocais.errors.UnsupportedFormatError` for an answer that is not the expected FHIR JSON;
:class:`~ocais.errors.InputTooLargeError` beyond ``max_resources``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from ocais.errors import (
    ConfigError,
    InputTooLargeError,
    NotFoundError,
    OcaisError,
    UnsupportedFormatError,
)

logger = logging.getLogger(__name__)

DEFAULT_TYPES: tuple[str, ...] = (
    "Condition",
    "Observation",
    "MedicationRequest",
    "Procedure",
    "Encounter",
)
#: ``(resource type, resources fetched so far, total the server announced or None)``
FetchProgress = Callable[[str, int, int | None], None]

PATIENT = "the requested patient"
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 ``id`` datatype
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # visible ASCII: anything else cannot travel in a header
_DEFAULT_PORTS = {"http": 80, "https": 443}
_AUTH_ERRORS = ("invalid_token", "insufficient_scope", "invalid_request")  # RFC 6750 codes
_EMPTY_PAGES = 10  # empty pages in a row that still link a next page: the server loops
_TOKEN_HINT = (
    "get an access token from the EHR's authorization server with SMART backend services "
    "(the client-credentials grant with a signed JWT assertion, scopes such as "
    "system/Patient.read system/Condition.read system/Observation.read) and put it in the "
    "environment variable named by --token-env"
)


# -- the token --------------------------------------------------------------------------------
def read_token(env_var: str | None) -> str | None:
    """The bearer token held by the environment variable ``env_var``; ``None`` without a name.

    A leading ``Bearer`` is dropped. Raises :class:`~ocais.errors.ConfigError` when the variable
    is named but not set, empty, or holds something that cannot be a token (spaces, line
    breaks); the message names the variable, never its value.
    """
    if env_var is None:
        return None
    name = env_var.strip()
    if not _ENV_NAME.fullmatch(name):
        raise ConfigError(  # not echoed: it may be the token itself
            "the token's variable is not an environment variable's name",
            hint="pass the variable's name, e.g. --token-env FHIR_TOKEN, not the token itself",
        )
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(f"the environment variable {name} is not set", hint=_TOKEN_HINT)
    token = re.sub(r"(?i)^bearer(\s+|$)", "", value.strip())
    if not token:
        raise ConfigError(f"the environment variable {name} is empty", hint=_TOKEN_HINT)
    if not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"the environment variable {name} does not hold one bearer token "
            "(it has spaces, line breaks or non-ASCII characters)",
            hint="put only the access token in it (the access_token field of the token response)",
        )
    return token


# -- the server -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Server:
    base: str  # no trailing slash; as shown in messages (no credentials, query or patient)
    origin: tuple[str, str, int]  # scheme, host, port: where the token may go


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _shown_origin(origin: tuple[str, str, int] | None) -> str:
    if origin is None:
        return "an address that is not an http(s) URL"
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"{scheme}://{host}" + ("" if port == _DEFAULT_PORTS[scheme] else f":{port}")


def _server(base_url: str) -> _Server:
    text = base_url.strip()
    example = "e.g. https://ehr.example.org/fhir"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ConfigError(
            "the FHIR server URL is not a valid URL", hint=f"pass the server's base URL, {example}"
        ) from None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(
            "the FHIR server URL must be an http:// or https:// URL with a host",
            hint=f"pass the server's base URL, {example}",
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "the FHIR server URL holds credentials; they are not sent",
            hint="remove them from the URL and pass a bearer token with --token-env",
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            "the FHIR server URL must be the server's base URL, without a query or fragment",
            hint=example,
        )
    origin = _origin(text)
    assert origin is not None  # scheme and host checked above
    base = f"{_shown_origin(origin)}{parts.path.rstrip('/')}"
    return _Server(base=base, origin=origin)


def server_base_url(base_url: str) -> str:
    """``base_url`` checked and normalised as it is shown in messages and records: an http(s)
    URL without credentials, query, fragment, default port or trailing slash. Raises
    :class:`~ocais.errors.ConfigError` for a URL :func:`fetch_patient_bundle` refuses."""
    return _server(base_url).base


# -- what may be said about a request ---------------------------------------------------------
class _Scrubber:
    """Removes the patient id (as a URL path segment or query value) and the token from text."""

    def __init__(self, patient_id: str, token: str | None) -> None:
        ids = {patient_id, quote(patient_id, safe="")}
        alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        after = "|".join(rf"(?<={re.escape(s)})" for s in ("/", "=", "%2F", "%2f", "%3D", "%3d"))
        self._id = re.compile(rf"(?:{after})(?:{alternatives})(?=$|[/?&#;,%\s\"'])")
        self._token = token

    def __call__(self, text: str) -> str:
        if self._token:
            text = text.replace(self._token, "[token]")
        return self._id.sub("[the requested patient]", text)


class _RedactLog(logging.Filter):
    """Rewrites httpx's request log lines ("HTTP Request: GET <url> …") without the patient."""

    def __init__(self, scrub: _Scrubber) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                self._scrub(str(a)) if isinstance(a, str | httpx.URL) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = self._scrub(record.msg)
        return True


@contextmanager
def _redacted_http_logs(scrub: _Scrubber) -> Iterator[None]:
    """httpx logs each request's URL at INFO (httpcore's trace logs hold no URL)."""
    log, redact = logging.getLogger("httpx"), _RedactLog(scrub)
    log.addFilter(redact)
    try:
        yield
    finally:
        log.removeFilter(redact)


# -- requests ---------------------------------------------------------------------------------
@dataclass
class _Session:
    client: httpx.Client
    server: _Server
    scrub: _Scrubber
    timeout: float
    has_token: bool

    def get(
        self, url: str, expected: str, what: str, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """GET ``url`` and return its FHIR resource of type ``expected``; ``what`` names the
        request in messages ("the Condition search for the requested patient")."""
        shown = self.server.base
        try:
            response = self.client.get(url, params=params)
        except httpx.TimeoutException:
            raise ConfigError(
                f"the FHIR server at {shown} did not answer {what} within {self.timeout:g} s",
                hint="check that the server is up, or allow a longer timeout",
            ) from None
        except httpx.TransportError as exc:
            reason = self.scrub(str(exc)) or type(exc).__name__
            raise ConfigError(
                f"cannot reach the FHIR server at {shown}: {reason}",
                hint="check the URL (the server's FHIR base URL), that the server is up and that "
                "this machine may connect to it",
            ) from None
        except httpx.InvalidURL:
            raise ConfigError(
                f"the FHIR server at {shown}: {what} has an invalid URL",
                hint="check the server's base URL",
            ) from None
        if response.status_code != 200:
            raise self._status_error(response, expected, what)
        try:
            data = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "").split(";")[0].strip()
            raise UnsupportedFormatError(
                f"the FHIR server at {shown} answered {what} with "
                f"{kind or 'a body without a content type'}, not FHIR JSON",
                hint="is the URL the server's FHIR base URL (e.g. https://ehr.example.org/fhir)?",
            ) from None
        found = data.get("resourceType") if isinstance(data, dict) else None
        if found != expected:
            got = (
                f"a resource of type {found}"
                if isinstance(found, str)
                else "JSON that is not a FHIR resource"
            )
            raise UnsupportedFormatError(
                f"the FHIR server at {shown} answered {what} with {got}, not a {expected}",
                hint="is the URL the server's FHIR R4 base URL?",
            )
        assert isinstance(data, dict)
        return data

    def _status_error(self, response: httpx.Response, expected: str, what: str) -> OcaisError:
        code, shown = response.status_code, self.server.base
        detail = _outcome_codes(response)
        if code in (401, 403):
            challenge = _bearer_error(response)
            why = (
                "no bearer token was sent"
                if not self.has_token
                else "the bearer token is missing, expired or lacks the scope for it"
            )
            reasons = ", ".join(filter(None, (challenge, detail)))
            return ConfigError(
                f"the FHIR server at {shown} refused {what} (HTTP {code}"
                f"{': ' + reasons if reasons else ''}): {why}",
                hint=_TOKEN_HINT,
            )
        if 300 <= code < 400:
            location = response.headers.get("location")
            target = _shown_origin(_origin(urljoin(str(response.url), location or "")))
            return ConfigError(
                f"the FHIR server at {shown} redirects {what} (HTTP {code}) to {target}; "
                "redirects are not followed",
                hint="pass the server's own FHIR base URL (the address it redirects to)",
            )
        suffix = f" ({detail})" if detail else ""
        if code in (404, 410) and expected == "Patient":
            return NotFoundError(
                f"the FHIR server at {shown} has no record of {PATIENT} (HTTP {code}){suffix}",
                hint="pass the patient's FHIR resource id on that server (Patient.id), "
                "not a medical record number",
            )
        if code == 404:
            return NotFoundError(
                f"the FHIR server at {shown} does not serve {what} (HTTP 404){suffix}",
                hint="check the server's capability statement (GET [base]/metadata)",
            )
        return ConfigError(
            f"the FHIR server at {shown} answered {what} with HTTP {code}{suffix}",
            hint="see the server's log for the reason, and try again",
        )


def _outcome_codes(response: httpx.Response) -> str:
    """The issue codes of an OperationOutcome body ("not-found", "expired"): coded values
    only, never its free text, which may quote the patient."""
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict) or data.get("resourceType") != "OperationOutcome":
        return ""
    codes = [
        issue["code"]
        for issue in data.get("issue") or []
        if isinstance(issue, dict)
        and isinstance(issue.get("code"), str)
        and re.fullmatch(r"[a-z][a-z-]{0,40}", issue["code"])
    ]
    return "OperationOutcome " + ", ".join(dict.fromkeys(codes)) if codes else ""


def _bearer_error(response: httpx.Response) -> str:
    """The RFC 6750 ``error`` of a ``WWW-Authenticate: Bearer`` challenge, when standard."""
    challenge = response.headers.get("www-authenticate", "")
    match = re.search(r'error="?([a-z_]+)"?', challenge)
    return match.group(1) if match and match.group(1) in _AUTH_ERRORS else ""


# -- the fetch --------------------------------------------------------------------------------
def fetch_patient_bundle(
    base_url: str,
    patient_id: str,
    *,
    token: str | None = None,
    types: Sequence[str] = DEFAULT_TYPES,
    page_size: int = 200,
    timeout: float = 30,
    max_resources: int = 20000,
    progress: FetchProgress | None = None,
) -> dict[str, Any]:
    """One patient's record from a FHIR R4 server, as a Bundle of type ``collection``.

    The Bundle holds ``Patient/{patient_id}`` and every resource of ``types`` found by
    ``GET {base_url}/{Type}?patient={patient_id}&_count={page_size}``, all pages (see the
    module docstring for the rules on tokens, links and errors). ``progress`` is called with
    ``(resource type, fetched so far, the total the server announced or None)``.
    ``max_resources``: a Bundle of more resources than this (the Patient included) raises
    :class:`~ocais.errors.InputTooLargeError`.
    """
    server = _server(base_url)
    if not _FHIR_ID.fullmatch(patient_id or ""):
        raise ConfigError(
            "the patient id is not a FHIR resource id (1 to 64 letters, digits, '-' or '.')",
            hint="pass the patient's FHIR resource id on that server (Patient.id)",
        )
    bad = [t for t in types if not _RESOURCE_TYPE.fullmatch(t) or t == "Patient"]
    if bad:
        raise ConfigError(f"not resource types to search by patient: {', '.join(map(repr, bad))}")
    if page_size < 1 or max_resources < 1 or timeout <= 0:
        raise ConfigError("page_size, max_resources and timeout must be positive")
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    scrub = _Scrubber(patient_id, token)
    client = httpx.Client(
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
    )
    with client, _redacted_http_logs(scrub):
        session = _Session(client, server, scrub, timeout, has_token=bool(token))
        patient = session.get(
            f"{server.base}/Patient/{quote(patient_id, safe='')}",
            "Patient",
            f"the Patient read for {PATIENT}",
        )
        if patient.get("id", patient_id) != patient_id:
            raise UnsupportedFormatError(
                f"the FHIR server at {server.base} answered the Patient read for {PATIENT} "
                "with another Patient",
                hint="the server may have merged the record: ask it for the current id",
            )
        patient["id"] = patient_id
        if progress is not None:
            progress("Patient", 1, 1)
        resources: list[dict[str, Any]] = [patient]
        for kind in dict.fromkeys(types):
            limit = (max_resources, max_resources - len(resources))
            resources.extend(_search(session, kind, patient_id, page_size, limit, progress))
    logger.debug("fetched %d resources of %s from %s", len(resources) - 1, PATIENT, server.base)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [_entry(server, resource) for resource in resources],
    }


def _search(
    session: _Session,
    kind: str,
    patient_id: str,
    page_size: int,
    limit: tuple[int, int],
    progress: FetchProgress | None,
) -> list[dict[str, Any]]:
    """Every ``kind`` resource of the patient, following the searchset's next links. ``limit``:
    ``max_resources`` and how many of them are left; more raise InputTooLargeError."""
    max_resources, budget = limit
    server = session.server
    url: str | None = f"{server.base}/{kind}"
    params: dict[str, str] | None = {"patient": patient_id, "_count": str(page_size)}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    anonymous: list[dict[str, Any]] = []
    visited: set[str] = set()
    total: int | None = None
    page, empty = 0, 0
    while url is not None:
        page += 1
        what = f"the {kind} search for {PATIENT}" + (f" (page {page})" if page > 1 else "")
        bundle = session.get(url, "Bundle", what, params)
        params = None  # the next links carry the search
        if page == 1 and isinstance(bundle.get("total"), int) and bundle["total"] >= 0:
            total = bundle["total"]
        before = len(found) + len(anonymous)
        for resource in _matches(bundle, kind, server, what):
            rid = resource.get("id")
            if isinstance(rid, str):
                found.setdefault((kind, rid), resource)
            else:
                anonymous.append(resource)
        count = len(found) + len(anonymous)
        if count > budget:
            raise InputTooLargeError(
                f"the record of {PATIENT} has more than {max_resources:,} resources "
                f"(the limit, reached in the {kind} search)",
                hint="raise max_resources, or fetch fewer resource types",
            )
        if progress is not None:
            progress(kind, count, total)
        url = _next_link(bundle, server, what)
        if url is not None:
            if url in visited:
                raise UnsupportedFormatError(
                    f"the FHIR server at {server.base} links {what} back to a page it already sent",
                    hint="the server's paging is broken; ask its administrators",
                )
            visited.add(url)
            empty = empty + 1 if count == before else 0
            if empty >= _EMPTY_PAGES:
                raise UnsupportedFormatError(
                    f"the FHIR server at {server.base} sent {empty} empty pages in a row for "
                    f"{what}, each linking a next one",
                    hint="the server's paging is broken; ask its administrators",
                )
    return [*found.values(), *anonymous]


def _matches(
    bundle: dict[str, Any], kind: str, server: _Server, what: str
) -> Iterator[dict[str, Any]]:
    """The resources of a searchset page that matched the search (no includes, no outcomes)."""
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        entries = [entries]
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise UnsupportedFormatError(
                f"the FHIR server at {server.base} answered {what} with a Bundle entry "
                "that holds no resource"
            )
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        if mode in (None, "match") and resource.get("resourceType") == kind:
            yield resource


def _next_link(bundle: dict[str, Any], server: _Server, what: str) -> str | None:
    """The absolute URL of the page after this one; only on the server's own origin."""
    links = bundle.get("link") or []
    if not isinstance(links, list):
        return None
    link = next(
        (
            item["url"]
            for item in links
            if isinstance(item, dict)
            and item.get("relation") == "next"
            and isinstance(item.get("url"), str)
            and item["url"].strip()
        ),
        None,
    )
    if link is None:
        return None
    url = urljoin(f"{server.base}/", link.strip())  # relative links are relative to the base
    origin = _origin(url)
    if origin != server.origin:
        raise ConfigError(
            f"the FHIR server at {server.base} links the next page of {what} to "
            f"{_shown_origin(origin)}, another origin: not followed (it would receive the "
            "bearer token)",
            hint="the server's configured base URL differs from the address used here: pass "
            "the address the server calls itself, or have its base URL setting fixed",
        )
    return url


def _entry(server: _Server, resource: dict[str, Any]) -> dict[str, Any]:
    rid, kind = resource.get("id"), resource.get("resourceType")
    if isinstance(rid, str) and isinstance(kind, str):
        return {"fullUrl": f"{server.base}/{kind}/{quote(rid, safe='')}", "resource": resource}
    return {"resource": resource}
