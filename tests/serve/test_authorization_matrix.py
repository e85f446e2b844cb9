"""Who may call which API route: a matrix built from the app's own route table.

Every ``APIRoute`` under ``/api/v1`` must have an entry in :data:`EXPECTED` (a new route fails
the test until its access is decided there). An entry names the resource its requests act on and
the status each caller gets:

* ``anonymous`` — no credentials;
* ``clinician/own`` — ``clinician``, on a resource ``clinician`` made;
* ``clinician/other`` — ``clinician2``, on the same resource (made by another clinician);
* ``researcher`` and ``admin`` — on that resource too;
* ``clinician/missing`` and ``admin/missing`` — on an id that does not exist (required for
  routes with a path parameter).

Resources (made fresh for every cell, so deleting or disabling one never disturbs the next):
``case`` (created through the API by ``clinician``), ``prediction`` (asked for by
``clinician``), ``shared_case`` (such a case, then shared by an admin: a reference case every
clinician reads), ``user`` (a new clinician account), ``login`` (a new account with a password),
``term`` and ``disease`` (knowledge-base ids, public). ``{id}`` in a path parameter or body is
replaced by the resource's id, ``{new}`` by a new unique name.

Besides the status, each cell checks: error answers have the error envelope; a case another
clinician may not see never appears in a successful answer; it is refused exactly like a missing
id (same code, same message and hint with the id substituted); a refused delete deletes nothing.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import fastapi.routing
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from ocais.share.package import Payload, build
from ocais.share.signing import SiteKey
from ocais.workflows import OPERATOR
from ocais.workflows.cases import share_cases
from ocais.workflows.sharing import publish_package
from tests.serve.conftest import Api, AppFactory, assert_envelope, open_api

API_PREFIX = "/api/v1"
PASSWORD = "correct horse battery staple"

#: cell → (caller, whether it targets the resource or a missing id)
CELLS: dict[str, tuple[str | None, bool]] = {
    "anonymous": (None, True),
    "clinician/own": ("clinician", True),
    "clinician/other": ("clinician2", True),
    "researcher": ("researcher", True),
    "admin": ("admin1", True),
    "clinician/missing": ("clinician", False),
    "admin/missing": ("admin1", False),
}
REQUIRED_CELLS = ("anonymous", "clinician/own", "clinician/other", "researcher", "admin")
MISSING_IDS = {
    "case": "00000000-0000-4000-8000-000000000000",
    "shared_case": "00000000-0000-4000-8000-000000000000",
    "prediction": "no-such-prediction",
    "user": "no-such-user",
    "term": "HP:9999999",
    "disease": "OMIM:999999",
    "package": "9.9.9",  # a valid package name and version (both path parameters), not installed
}

STUDY = (
    "name: s\ntarget: {medications: ['RxNorm:1']}\ncomparator: {medications: ['RxNorm:2']}\n"
    "outcome: {conditions: ['SNOMED:3']}\n"
)

# "METHOD PATH" (as in the route table), optionally " | variant" for a second request shape.
EXPECTED: dict[str, dict[str, Any]] = {
    "GET /api/v1/health": {
        "anonymous": 200,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
    },
    "GET /api/v1/version": {
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
    },
    "POST /api/v1/predict": {
        "body": {"case": {"phenotypes": [{"id": "HP:0001250"}]}},
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 403,
        "admin": 200,
    },
    "POST /api/v1/predict | explained": {
        "body": {"case": {"phenotypes": [{"id": "HP:0001250"}]}, "explain": True},
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 403,
        "admin": 200,
    },
    "POST /api/v1/explanations": {
        "body": {"case": {"phenotypes": [{"id": "HP:0001250"}]}},
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 403,
        "admin": 200,
    },
    # letters describe a patient: written for clinicians (nothing is stored)
    "POST /api/v1/letters": {
        "body": {"text": "Seizures since infancy."},
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 403,
        "admin": 200,
    },
    # login is anonymous by design: the name and password are the credentials
    "POST /api/v1/session": {
        "resource": "login",
        "body": {"username": "{id}", "password": PASSWORD},
        "anonymous": 200,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
    },
    "POST /api/v1/session | wrong password": {
        "resource": "login",
        "body": {"username": "{id}", "password": "not the password"},
        "anonymous": 401,
        "clinician/own": 401,
        "clinician/other": 401,
        "researcher": 401,
        "admin": 401,
    },
    "GET /api/v1/session": {
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
    },
    "DELETE /api/v1/session": {
        "anonymous": 401,
        "clinician/own": 204,
        "clinician/other": 204,
        "researcher": 204,
        "admin": 204,
    },
    "POST /api/v1/cases": {
        "body": {"case": {"phenotypes": [{"id": "HP:0001250"}]}},
        "anonymous": 401,
        "clinician/own": 201,
        "clinician/other": 201,
        "researcher": 403,
        "admin": 201,
    },
    "GET /api/v1/cases": {
        "resource": "case",  # clinician's case: listed for its owner, researchers and admins only
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
    },
    "GET /api/v1/cases/{case_id}": {
        "resource": "case",
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 404,
        "researcher": 200,
        "admin": 200,
        "clinician/missing": 404,
        "admin/missing": 404,
    },
    "PUT /api/v1/cases/{case_id}/shared": {
        "resource": "case",
        "body": {"shared": True},
        "anonymous": 401,
        "clinician/own": 403,  # sharing is for admins
        "clinician/other": 403,
        "researcher": 403,
        "admin": 200,
        "clinician/missing": 403,
        "admin/missing": 404,
    },
    "DELETE /api/v1/cases/{case_id}": {
        "resource": "case",
        "anonymous": 401,
        "clinician/own": 204,
        "clinician/other": 404,
        "researcher": 403,
        "admin": 204,
        "clinician/missing": 404,
        "admin/missing": 404,
    },
    # the same case routes on a case ``clinician`` made and an admin shared (a reference case):
    # every clinician reads it, only its owner and admins delete it
    "GET /api/v1/cases/{case_id} | shared": {
        "resource": "shared_case",
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
        "clinician/missing": 404,
        "admin/missing": 404,
    },
    "DELETE /api/v1/cases/{case_id} | shared": {
        "resource": "shared_case",
        "anonymous": 401,
        "clinician/own": 204,
        "clinician/other": 403,
        "researcher": 403,
        "admin": 204,
        "clinician/missing": 404,
        "admin/missing": 404,
    },
    "POST /api/v1/search | like_case shared": {
        "resource": "shared_case",
        "body": {"like_case": "{id}"},
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
        "clinician/missing": 404,
        "admin/missing": 404,
    },
    "POST /api/v1/search": {
        "resource": "case",  # matches the query: hidden from clinician2
        "body": {"hpo": ["HP:0001250"]},
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
    },
    "POST /api/v1/search | like_case": {
        "resource": "case",
        "body": {"like_case": "{id}"},
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 404,
        "researcher": 200,
        "admin": 200,
        "clinician/missing": 404,
        "admin/missing": 404,
    },
    "GET /api/v1/knowledge/terms": {
        "query": {"q": "seizure"},
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
    },
    "GET /api/v1/knowledge/terms/{term_id}": {
        "resource": "term",
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
        "clinician/missing": 404,
    },
    "GET /api/v1/knowledge/diseases/{disease_id}": {
        "resource": "disease",
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
        "clinician/missing": 404,
    },
    "POST /api/v1/feedback": {
        "resource": "prediction",  # feedback is given by whoever asked (or an admin)
        "body": {"prediction_id": "{id}", "rating": 4},
        "anonymous": 401,
        "clinician/own": 201,
        "clinician/other": 404,  # someone else's prediction: as if it did not exist
        "researcher": 403,  # the role gives no feedback
        "admin": 201,
        "clinician/missing": 404,
    },
    # a prediction as FHIR is read by whoever may give feedback on it: who asked, or an admin
    "GET /api/v1/predictions/{prediction_id}": {
        "resource": "prediction",
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 404,  # someone else's prediction: as if it did not exist
        "researcher": 403,
        "admin": 200,
        "clinician/missing": 404,
        "admin/missing": 404,
    },
    "GET /api/v1/predictions/{prediction_id}/fhir": {
        "resource": "prediction",
        "anonymous": 401,
        "clinician/own": 200,
        "clinician/other": 404,  # someone else's prediction: as if it did not exist
        "researcher": 403,  # the role neither predicts nor gives feedback
        "admin": 200,
        "clinician/missing": 404,
        "admin/missing": 404,
    },
    "GET /api/v1/feedback": {
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 200,
        "admin": 200,
    },
    "GET /api/v1/reports/service": {
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 200,
        "admin": 200,
    },
    # the registry: public reads (signed, privacy-gated evidence meant for other sites; see
    # OCAIS_SERVE_REGISTRY_PUBLIC), uploads by researchers and admins (an empty body: 400)
    "GET /api/v1/packages": {
        "anonymous": 200,
        "clinician/own": 200,
        "clinician/other": 200,
        "researcher": 200,
        "admin": 200,
    },
    **{
        f"GET /api/v1/packages/{path}": {
            "resource": "package",
            "anonymous": 200,
            "clinician/own": 200,
            "clinician/other": 200,
            "researcher": 200,
            "admin": 200,
            "clinician/missing": 404,
        }
        for path in ("{name}", "{name}/lineage", "{name}/{version}", "{name}/{version}/download")
    },
    "POST /api/v1/packages": {
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 400,
        "admin": 400,
    },
    # a study reads every record of the site: researchers and admins (an empty tiny store:
    # both cohorts empty, the estimate withheld)
    "POST /api/v1/studies": {
        "body": {"definition": STUDY},
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 200,
        "admin": 200,
    },
    "GET /api/v1/users": {
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 403,
        "admin": 200,
    },
    "POST /api/v1/users": {
        "body": {"name": "{new}", "role": "clinician"},
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 403,
        "admin": 201,
    },
    "POST /api/v1/users/{name}/keys": {
        "resource": "user",
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 403,
        "admin": 201,
        "admin/missing": 404,
    },
    "POST /api/v1/users/{name}/disable": {
        "resource": "user",
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 403,
        "admin": 200,
        "admin/missing": 404,
    },
    "POST /api/v1/users/{name}/enable": {
        "resource": "user",
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 403,
        "admin": 200,
        "admin/missing": 404,
    },
    "GET /api/v1/audit": {
        "anonymous": 401,
        "clinician/own": 403,
        "clinician/other": 403,
        "researcher": 403,
        "admin": 200,
    },
}
ENTRY_KEYS = {"resource", "body", "query"}


def api_routes(app: FastAPI) -> list[str]:
    """``"METHOD PATH"`` of every ``APIRoute`` under ``/api/v1`` (included routers flattened)."""
    # FastAPI >= 0.16x keeps included routers lazily: iter_route_contexts flattens them
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    found = []
    for entry in iterate(app.routes) if iterate is not None else app.routes:
        route = getattr(entry, "original_route", entry)
        path = getattr(entry, "path", None)
        if not isinstance(route, APIRoute) or not isinstance(path, str):
            continue
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            continue
        found += [f"{method} {path}" for method in sorted(route.methods or ())]
    return found


@pytest.fixture
def matrix_api(make_app: AppFactory) -> Iterator[Api]:
    yield from open_api(make_app(search="default"))


class Resources:
    """Makes a fresh resource of each kind, owned by ``clinician`` where that applies."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.counter = itertools.count(1)

    def new_name(self) -> str:
        return f"matrix-user-{next(self.counter)}"

    def make(self, kind: str | None) -> str | None:
        api = self.api
        if kind is None:
            return None
        if kind in ("case", "shared_case"):
            body = {"case": {"phenotypes": [{"id": "HP:0001250"}], "sex": "female"}}
            response = api.client.post("/api/v1/cases", json=body, headers=api.auth("clinician"))
            assert response.status_code == 201, response.text
            case_id: str = response.json()["id"]
            if kind == "shared_case":
                share_cases(api.services.core, OPERATOR, [case_id])
            return case_id
        if kind == "prediction":
            prediction_id: str = api.predict("clinician")["prediction_id"]
            return prediction_id
        if kind in ("user", "login"):
            name = self.new_name()
            password = PASSWORD if kind == "login" else None
            api.services.accounts.add_user(name, "clinician", password=password)
            return name
        if kind == "term":
            return "HP:0001250"
        if kind == "disease":
            return "OMIM:100001"
        if kind == "package":  # named "1.0.0" at version 1.0.0: one id fills both parameters
            return self.package()
        raise AssertionError(f"unknown resource kind {kind!r}")

    def package(self) -> str:
        settings = self.api.services.settings
        keys = settings.resolved_keys_dir
        key = SiteKey.load(keys) if SiteKey.exists(keys) else SiteKey.create(keys, "matrix")
        payload = Payload(files={"a.json": b"{}"}, synthetic=True, intended_use="test")
        out = settings.data_dir / "matrix-package.tar.gz"
        build(
            "dataset",
            payload,
            name="1.0.0",
            version="1.0.0",
            license="CC0-1.0",
            description="",
            key=key,
            software="test",
            card="# test",
            out=out,
        )
        publish_package(self.api.services.core, out)
        return "1.0.0"

    def case_exists(self, case_id: str) -> bool:
        api = self.api
        response = api.client.get(f"/api/v1/cases/{case_id}", headers=api.auth("admin1"))
        return response.status_code == 200


def fill(template: Any, target: str | None, new: str) -> Any:
    """``template`` with ``{id}`` → ``target`` and ``{new}`` → ``new``, recursively."""
    if isinstance(template, str):
        if template == "{id}":
            assert target is not None, "a body names {id} but the entry has no resource"
            return target
        return new if template == "{new}" else template
    if isinstance(template, dict):
        return {k: fill(v, target, new) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, target, new) for v in template]
    return template


def call(api: Api, key: str, entry: dict[str, Any], cell: str, target: str | None) -> Any:
    method, path = key.split(" | ")[0].split(" ", 1)
    caller = CELLS[cell][0]
    if "{" in path:
        assert target is not None, f"{key}: a path parameter needs a resource"
        path = re.sub(r"\{[^}]+\}", target, path)
    headers = api.auth(caller) if caller is not None else {}
    body = fill(entry.get("body"), target, f"new-user-{uuid.uuid4().hex[:8]}")
    api.client.cookies.clear()  # a login's session cookie must not authenticate the next call
    return api.client.request(method, path, headers=headers, params=entry.get("query"), json=body)


def check_entry(key: str, entry: dict[str, Any], api: Api, resources: Resources) -> list[str]:
    """Run every cell of one entry; the list of what went wrong (empty if all is well)."""
    problems: list[str] = []
    unknown = set(entry) - ENTRY_KEYS - set(CELLS)
    if unknown:
        return [f"{key}: unknown keys {sorted(unknown)}"]
    lacking = [c for c in REQUIRED_CELLS if c not in entry]
    if "{" in key and not any(c.endswith("/missing") for c in entry):
        lacking.append("clinician/missing or admin/missing")
    if lacking:
        return [f"{key}: no expected status for {lacking}"]
    kind = entry.get("resource")
    refusals: dict[str, tuple[str, dict[str, Any]]] = {}  # cell → (id, error) for 404s
    for cell, (_, on_resource) in CELLS.items():
        if cell not in entry:
            continue
        expected: int = entry[cell]
        if on_resource:
            target = resources.make(kind)
        else:
            assert kind in MISSING_IDS, f"{key}: {cell} needs a resource kind with a missing id"
            target = MISSING_IDS[kind]
        response = call(api, key, entry, cell, target)
        where = f"{key} as {cell}"
        if response.status_code != expected:
            problems.append(
                f"{where}: expected {expected}, got {response.status_code}: {response.text[:200]}"
            )
            continue
        if expected >= 400:
            try:
                error = assert_envelope(response, expected)
            except AssertionError as exc:
                problems.append(f"{where}: not the error envelope: {exc}")
                continue
            if expected == 404 and target is not None:
                refusals[cell] = (target, error)
        leaked = target is not None and expected < 400 and target in response.text
        if cell == "clinician/other" and kind == "case" and leaked:
            problems.append(f"{where}: the other clinician's case {target} is in the answer")
        deletes_case = key.startswith("DELETE ") and kind in ("case", "shared_case")
        if deletes_case and on_resource and target is not None:
            exists = resources.case_exists(target)
            if expected >= 400 and not exists:
                problems.append(f"{where}: refused ({expected}) but the case was deleted")
            if expected < 400 and exists:
                problems.append(f"{where}: answered {expected} but the case is still there")
    if kind == "case" and "clinician/other" in refusals and "clinician/missing" in refusals:
        problems += same_refusal(key, refusals["clinician/other"], refusals["clinician/missing"])
    return problems


def same_refusal(
    key: str, hidden: tuple[str, dict[str, Any]], missing: tuple[str, dict[str, Any]]
) -> list[str]:
    """A case the caller may not see is refused exactly like a missing id."""

    def shape(target: str, error: dict[str, Any]) -> str:
        kept = {k: v for k, v in error.items() if k != "request_id"}
        return json.dumps(kept, sort_keys=True).replace(target, "<id>")

    if shape(*hidden) != shape(*missing):
        return [
            f"{key}: another clinician's case is not answered like a missing one: "
            f"{shape(*hidden)} != {shape(*missing)}"
        ]
    if hidden[1]["code"] != "not_found":
        return [f"{key}: a hidden case answers {hidden[1]['code']!r}, not 'not_found'"]
    return []


def test_every_api_route_has_an_access_decision(matrix_api: Api) -> None:
    routes = api_routes(matrix_api.app)
    assert len(routes) >= 20, f"the route table looks wrong: {routes}"
    decided = {key.split(" | ")[0] for key in EXPECTED}
    undecided = [r for r in routes if r not in decided]
    assert not undecided, (
        f"routes without an entry in EXPECTED (decide who may call them): {undecided}"
    )
    stale = sorted(decided - set(routes))
    assert not stale, f"EXPECTED names routes that do not exist: {stale}"


def test_authorization_matrix(matrix_api: Api) -> None:
    """Every cell of every route in the app's route table, all failures reported at once."""
    resources = Resources(matrix_api)
    routes = api_routes(matrix_api.app)
    problems: list[str] = []
    checked = 0
    for route in routes:
        keys = [k for k in EXPECTED if k.split(" | ")[0] == route]
        if not keys:
            problems.append(f"{route}: no entry in EXPECTED (decide who may call it)")
        for key in keys:
            problems += check_entry(key, EXPECTED[key], matrix_api, resources)
            checked += sum(cell in EXPECTED[key] for cell in CELLS)
    assert not problems, f"{len(problems)} of {checked} cells wrong:\n" + "\n".join(problems)
    assert checked >= 5 * len(routes)
