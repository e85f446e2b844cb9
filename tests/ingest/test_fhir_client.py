"""Tests of the FHIR R4 REST client against a real HTTP server on loopback (tests/ingest/
fhir_server.py): paging, the bearer token, and every refusal without leaking the token or the
patient id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from ocais.errors import (
    ConfigError,
    InputTooLargeError,
    NotFoundError,
    OcaisError,
    UnsupportedFormatError,
)
from ocais.ingest.fhir_client import (
    DEFAULT_TYPES,
    fetch_patient_bundle,
    read_token,
    server_base_url,
)
from tests.ingest.fhir_server import FhirTestServer, operation_outcome, serve_fhir

PID = "pat-7731-xq"  # distinctive: it must never appear in a message or a log line
OTHER = "pat-0000-zz"
TOKEN = "tok-SECRET-4f9a1c"
SNOMED = "http://snomed.info/sct"


def patient(pid: str = PID) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": "Zzyzxson", "given": ["Quintessa"]}],
        "gender": "female",
        "birthDate": "1990-06-15",
    }


def resource(kind: str, rid: str, pid: str = PID, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "resourceType": kind,
        "id": rid,
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": SNOMED, "code": "91175000", "display": "Seizure"}]},
    }
    data.update(extra)
    return data


def chart(n_conditions: int = 7) -> list[dict[str, Any]]:
    """The patient with ``n_conditions`` Conditions, 2 Observations, a MedicationRequest (by
    ``patient``, not ``subject``) and resources of another patient."""
    return [
        patient(),
        *(resource("Condition", f"c{i}") for i in range(n_conditions)),
        resource("Observation", "o1", status="final"),
        resource("Observation", "o2", status="final"),
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "patient": {"reference": f"Patient/{PID}"},
        },
        patient(OTHER),
        resource("Condition", "other-c1", OTHER),
        resource("Observation", "other-o1", OTHER),
    ]


@pytest.fixture
def server() -> Iterator[FhirTestServer]:
    """The chart behind a token, three Conditions a page at most."""
    with serve_fhir(chart(), token=TOKEN, max_page_size=3) as running:
        yield running


def ids(bundle: dict[str, Any], kind: str) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def assert_private(error: BaseException) -> None:
    """Neither the token nor the patient id in the message, its hint or its cause."""
    for text in (str(error), repr(error), repr(error.__cause__), repr(error.__context__)):
        assert TOKEN not in text and PID not in text


# --- fetching --------------------------------------------------------------------------------


def test_fetches_the_patient_and_every_page_with_the_token(server: FhirTestServer) -> None:
    calls: list[tuple[str, int, int | None]] = []
    bundle = fetch_patient_bundle(
        server.base_url, PID, token=TOKEN, progress=lambda *call: calls.append(call)
    )
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    assert bundle["entry"][0]["resource"] == patient()
    assert bundle["entry"][0]["fullUrl"] == f"{server.base_url}/Patient/{PID}"
    assert ids(bundle, "Condition") == [f"c{i}" for i in range(7)]  # 3 + 3 + 1 on 3 pages
    assert ids(bundle, "Observation") == ["o1", "o2"]
    assert ids(bundle, "MedicationRequest") == ["m1"]
    assert ids(bundle, "Patient") == [PID]  # not the other patient, nor its resources
    assert len(bundle["entry"]) == 11
    condition_pages = [r for r in server.requests if r.path == "/fhir/Condition"]
    assert len(condition_pages) == 3
    assert condition_pages[0].query == {"patient": [PID], "_count": ["200"]}
    assert [r.query.get("_offset") for r in condition_pages] == [None, ["3"], ["6"]]
    assert server.paths()[0] == f"/fhir/Patient/{PID}"
    assert {p for p in server.paths()[1:]} == {f"/fhir/{t}" for t in DEFAULT_TYPES}
    assert {r.authorization for r in server.requests} == {f"Bearer {TOKEN}"}
    assert {r.headers["accept"] for r in server.requests} == {"application/fhir+json"}
    assert ("Patient", 1, 1) in calls
    assert [c for c in calls if c[0] == "Condition"] == [
        ("Condition", 3, 7),
        ("Condition", 6, 7),
        ("Condition", 7, 7),
    ]
    assert ("Procedure", 0, 0) in calls


@pytest.mark.parametrize("links", ["relative", "path", "absolute"])
def test_follows_relative_and_absolute_next_links(links: Any) -> None:
    with serve_fhir(chart(5), max_page_size=2, links=links) as server:
        bundle = fetch_patient_bundle(server.base_url, PID, types=["Condition"], page_size=2)
        assert ids(bundle, "Condition") == [f"c{i}" for i in range(5)]
        assert server.paths().count("/fhir/Condition") == 3
        assert server.requests[1].authorization is None  # no token given: none sent


def test_a_server_at_the_root_path_and_a_trailing_slash() -> None:
    with serve_fhir(chart(1), base_path="") as server:
        bundle = fetch_patient_bundle(server.base_url + "/", PID, types=["Condition"])
        assert ids(bundle, "Condition") == ["c0"]
        assert server.paths() == [f"/Patient/{PID}", "/Condition"]


def test_includes_outcomes_and_repeated_entries_are_left_out(server: FhirTestServer) -> None:
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": resource("Condition", "c1"), "search": {"mode": "match"}},
            {"resource": resource("Condition", "c1")},  # the same resource again
            {"resource": patient(), "search": {"mode": "include"}},
            {"resource": operation_outcome("informational", "note"), "search": {"mode": "outcome"}},
            {"resource": resource("Observation", "o9")},  # not the searched type
        ],
    }
    server.set_reply("/fhir/Condition", body=page)
    bundle = fetch_patient_bundle(server.base_url, PID, token=TOKEN, types=["Condition"])
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Patient", "Condition"]


def test_http_logs_do_not_name_the_patient(
    server: FhirTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)
    lines = [r.getMessage() for r in caplog.records]
    requests = [line for line in lines if line.startswith("HTTP Request:")]
    assert len(requests) == len(server.requests) == 8  # httpx logged each, redacted
    assert any("/fhir/Patient/[the requested patient]" in line for line in requests)
    assert not [line for line in lines if PID in line or TOKEN in line]
    # the redaction is removed after the fetch
    assert not logging.getLogger("httpx").filters


# --- refusals --------------------------------------------------------------------------------


def test_401_without_a_token(server: FhirTestServer) -> None:
    with pytest.raises(ConfigError) as error:
        fetch_patient_bundle(server.base_url, PID)
    message = str(error.value)
    assert "HTTP 401" in message and "no bearer token was sent" in message
    assert "the Patient read for the requested patient" in message
    assert "OperationOutcome login" in message
    assert error.value.hint is not None and "SMART backend services" in error.value.hint
    assert "--token-env" in error.value.hint
    assert_private(error.value)


def test_a_wrong_or_expired_token_is_named_but_never_shown(server: FhirTestServer) -> None:
    wrong = "tok-SECRET-expired-77"
    with pytest.raises(ConfigError) as error:
        fetch_patient_bundle(server.base_url, PID, token=wrong)
    message = str(error.value)
    assert "HTTP 401: invalid_token" in message
    assert "the bearer token is missing, expired or lacks the scope" in message
    assert wrong not in message and wrong not in repr(error.value)
    assert_private(error.value)

    # a token that expires during the fetch: the next search is refused
    def expire(kind: str, done: int, total: int | None) -> None:
        server.token = "a-new-token"

    with pytest.raises(ConfigError, match="refused the Condition search") as expired:
        fetch_patient_bundle(server.base_url, PID, token=TOKEN, progress=expire)
    assert_private(expired.value)


def test_403_lacking_scope(server: FhirTestServer) -> None:
    outcome = operation_outcome("forbidden", f"scope does not cover Patient/{PID}")
    server.set_reply("/fhir/Observation", 403, outcome)
    with pytest.raises(ConfigError, match=r"HTTP 403: OperationOutcome forbidden\)") as error:
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)
    assert "refused the Observation search for the requested patient" in str(error.value)
    assert_private(error.value)  # the server's diagnostics (which name the patient) are left out


def test_404_for_an_unknown_patient(server: FhirTestServer) -> None:
    with pytest.raises(NotFoundError) as error:
        fetch_patient_bundle(server.base_url, "nobody-42", token=TOKEN)
    message = str(error.value)
    assert "has no record of the requested patient (HTTP 404" in message
    assert "not-found" in message and "nobody-42" not in message
    assert "Patient.id" in (error.value.hint or "")
    assert server.paths() == ["/fhir/Patient/nobody-42"]  # no search after the 404


def test_a_next_link_to_another_origin_is_refused() -> None:
    with serve_fhir() as elsewhere:  # another port on 127.0.0.1: another origin
        with serve_fhir(
            chart(), token=TOKEN, max_page_size=3, link_origin=elsewhere.origin
        ) as server:
            with pytest.raises(ConfigError) as error:
                fetch_patient_bundle(server.base_url, PID, token=TOKEN)
            assert server.paths().count("/fhir/Condition") == 1  # only the first page
        assert elsewhere.requests == []  # the token never left for the other origin
    message = str(error.value)
    assert f"to {elsewhere.origin}, another origin: not followed" in message
    assert "bearer token" in message
    assert_private(error.value)


def test_https_to_http_is_another_origin() -> None:
    with (
        serve_fhir(chart(), max_page_size=3, link_origin="https://127.0.0.1:1") as server,
        pytest.raises(ConfigError, match="another origin"),
    ):
        fetch_patient_bundle(server.base_url, PID)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("<html><body>Sign in</body></html>", "text/html", "with text/html, not FHIR JSON"),
        ({"hello": "world"}, "application/json", "JSON that is not a FHIR resource, not a Patient"),
        (
            operation_outcome("informational", "ok"),
            "application/fhir+json",
            "a resource of type OperationOutcome",
        ),
    ],
)
def test_an_answer_that_is_not_a_fhir_patient(
    server: FhirTestServer, body: Any, content_type: str, expected: str
) -> None:
    server.set_reply(f"/fhir/Patient/{PID}", 200, body, content_type)
    with pytest.raises(UnsupportedFormatError, match=expected) as error:
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)
    assert "base URL" in (error.value.hint or "")
    assert_private(error.value)


def test_a_search_that_answers_no_bundle(server: FhirTestServer) -> None:
    server.set_reply("/fhir/Encounter", 200, patient())
    with pytest.raises(
        UnsupportedFormatError, match=r"the Encounter search .* type Patient, not a Bundle"
    ):
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)
    server.set_reply("/fhir/Encounter", 200, {"resourceType": "Bundle", "entry": [{"x": 1}]})
    with pytest.raises(UnsupportedFormatError, match="entry that holds no resource"):
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)


def test_another_patient_in_answer_to_the_read(server: FhirTestServer) -> None:
    server.set_reply(f"/fhir/Patient/{PID}", 200, patient(OTHER))
    with pytest.raises(UnsupportedFormatError, match="with another Patient") as error:
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)
    assert OTHER not in str(error.value)


def test_paging_that_loops_is_stopped(server: FhirTestServer) -> None:
    looping = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": "Condition?page=again"}],
        "entry": [{"resource": resource("Condition", "c1")}],
    }
    server.set_reply("/fhir/Condition", body=looping)
    with pytest.raises(UnsupportedFormatError, match="back to a page it already sent"):
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)
    assert server.paths().count("/fhir/Condition") == 2


def test_server_errors_and_redirects(server: FhirTestServer) -> None:
    server.set_reply("/fhir/Condition", 500, operation_outcome("exception", f"db down {PID}"))
    with pytest.raises(ConfigError, match=r"with HTTP 500 \(OperationOutcome exception\)") as error:
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)
    assert_private(error.value)
    server.set_reply("/fhir/Condition", 404, operation_outcome("not-supported", "no"))
    with pytest.raises(NotFoundError, match="does not serve the Condition search"):
        fetch_patient_bundle(server.base_url, PID, token=TOKEN)
    with serve_fhir(chart()) as plain:
        plain.set_reply(f"/fhir/Patient/{PID}", 301, b"")
        with pytest.raises(ConfigError, match=r"redirects .* not followed"):
            fetch_patient_bundle(plain.base_url, PID)


def test_more_resources_than_allowed(server: FhirTestServer) -> None:
    with pytest.raises(InputTooLargeError, match="more than 5 resources") as error:
        fetch_patient_bundle(server.base_url, PID, token=TOKEN, max_resources=5)
    assert "the Condition search" in str(error.value)
    assert server.paths().count("/fhir/Condition") == 2  # stopped at the page past the limit
    # the Patient and its 7 Conditions fit in 8; the Observations do not
    with pytest.raises(InputTooLargeError):
        fetch_patient_bundle(server.base_url, PID, token=TOKEN, max_resources=8)
    bundle = fetch_patient_bundle(server.base_url, PID, token=TOKEN, max_resources=11)
    assert len(bundle["entry"]) == 11


def test_an_unreachable_server() -> None:
    with serve_fhir() as gone:
        url = gone.base_url
    with pytest.raises(ConfigError, match=r"cannot reach the FHIR server at http://127\.0\.0\.1"):
        fetch_patient_bundle(url, PID, token=TOKEN)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://ehr.example.org/fhir", "http:// or https:// URL"),
        ("ehr.example.org/fhir", "http:// or https:// URL"),
        ("http://user:pw@ehr.example.org/fhir", "holds credentials"),
        ("http://ehr.example.org/fhir?x=1", "without a query"),
        ("http://ehr.example.org:port/fhir", "not a valid URL"),
    ],
)
def test_bad_urls(url: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as error:
        fetch_patient_bundle(url, PID)
    assert "pw" not in str(error.value)


def test_base_url_is_normalised() -> None:
    assert server_base_url(" HTTPS://EHR.example.org:443/fhir/ ") == "https://ehr.example.org/fhir"
    assert server_base_url("http://[::1]:8080/r4") == "http://[::1]:8080/r4"


@pytest.mark.parametrize("bad", ["../Patient/x", "a b", "", "x" * 65, "p/1"])
def test_patient_ids_that_are_not_fhir_ids(bad: str) -> None:
    with pytest.raises(ConfigError, match="not a FHIR resource id") as error:
        fetch_patient_bundle("http://127.0.0.1:1/fhir", bad)
    assert bad not in str(error.value) or not bad


# --- the token -------------------------------------------------------------------------------


def test_read_token(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_token(None) is None
    monkeypatch.setenv("FHIR_TOKEN", f"  {TOKEN}\n")
    assert read_token("FHIR_TOKEN") == TOKEN
    monkeypatch.setenv("FHIR_TOKEN", f"Bearer {TOKEN}")
    assert read_token("FHIR_TOKEN") == TOKEN


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "FHIR_TOKEN is not set"),
        ("", "FHIR_TOKEN is empty"),
        ("Bearer ", "FHIR_TOKEN is empty"),
        (f"{TOKEN} {TOKEN}", "does not hold one bearer token"),
        (f"{TOKEN}\nsecond-line", "does not hold one bearer token"),
    ],
)
def test_read_token_refuses(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str
) -> None:
    if value is None:
        monkeypatch.delenv("FHIR_TOKEN", raising=False)
    else:
        monkeypatch.setenv("FHIR_TOKEN", value)
    with pytest.raises(ConfigError, match=expected) as error:
        read_token("FHIR_TOKEN")
    assert TOKEN not in str(error.value)
    assert isinstance(error.value, OcaisError) and error.value.hint


def test_read_token_wants_a_name_not_a_token() -> None:
    with pytest.raises(ConfigError, match="not an environment variable's name") as error:
        read_token("eyJhbGciOi.J9.x")
    assert "--token-env FHIR_TOKEN" in (error.value.hint or "")
