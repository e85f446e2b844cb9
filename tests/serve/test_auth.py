"""Accounts: API keys hashed at rest, sessions with CSRF, roles, disabling, the users routes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ocais.errors import InvalidRecordError
from ocais.serve.accounts import Accounts
from ocais.serve.security import (
    hash_password,
    hash_secret,
    split_api_key,
    token_digest,
    verify_secret,
)
from ocais.store.service_models import api_keys_table, sessions_table, users_table
from tests.serve.conftest import Api, assert_envelope

PASSWORD = "correct horse battery staple"


@pytest.mark.usefixtures("real_scrypt")
def test_secret_hashing_round_trip() -> None:
    stored = hash_secret("s3cret")
    assert stored.startswith("scrypt$16384$8$1$") and "s3cret" not in stored
    assert hash_password("a long password").startswith("scrypt$32768$")
    assert verify_secret("s3cret", stored)
    assert not verify_secret("s3cret!", stored)
    assert not verify_secret("s3cret", "garbage")
    assert split_api_key("ocais_0123456789ab_rest_of_it") == ("0123456789ab", "rest_of_it")
    assert split_api_key("other_0123456789ab_x") is None
    assert split_api_key("ocais_short_x") is None


def test_keys_and_passwords_are_stored_only_hashed(api: Api) -> None:
    api.add_user("nurse", "clinician", password=PASSWORD)
    key = api.auth("nurse")["Authorization"].removeprefix("Bearer ")
    with api.services.repo.engine.connect() as conn:
        keys = [tuple(r) for r in conn.execute(select(api_keys_table))]
        users = [tuple(r) for r in conn.execute(select(users_table))]
    dump = repr(keys) + repr(users)
    assert split_api_key(key)[1] not in dump  # type: ignore[index]
    assert PASSWORD not in dump
    assert split_api_key(key)[0] in dump  # type: ignore[index]  # the prefix finds the key


def test_whoami_with_key(api: Api) -> None:
    response = api.client.get("/api/v1/session", headers=api.auth("researcher"))
    assert response.status_code == 200
    assert response.json() | {"user_id": "-"} == {
        "user_id": "-",
        "name": "researcher",
        "role": "researcher",
        "via": "key",
    }


def test_session_login_cookie_csrf_logout(api: Api) -> None:
    api.services.accounts.add_user("doc", "clinician", password=PASSWORD)
    client = api.client
    bad = client.post("/api/v1/session", json={"username": "doc", "password": "wrong password"})
    assert_envelope(bad, 401, "unauthorized")
    assert_envelope(client.post("/api/v1/session", json={"username": "x"}), 422)

    response = client.post("/api/v1/session", json={"username": "doc", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["role"] == "clinician" and body["user"]["via"] == "session"
    cookie = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookie if c.startswith("ocais_session="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie.replace(
        "Strict", "strict"
    )
    with api.services.repo.engine.connect() as conn:
        stored = conn.execute(select(sessions_table.c.token_hash)).scalars().all()
    token = client.cookies.get("ocais_session")
    assert token is not None and token not in stored and token_digest(token) in stored

    # safe methods work with the cookie alone
    assert client.get("/api/v1/session").json()["name"] == "doc"
    predict = {"case": {"phenotypes": [{"id": "HP:0001250"}]}}
    # unsafe methods need the CSRF token
    assert_envelope(client.post("/api/v1/predict", json=predict), 403, "csrf_failed")
    wrong = {"X-CSRF-Token": "not-the-token"}
    assert_envelope(client.post("/api/v1/predict", json=predict, headers=wrong), 403)
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    assert client.post("/api/v1/predict", json=predict, headers=csrf).status_code == 200

    assert client.delete("/api/v1/session", headers=csrf).status_code == 204
    client.cookies.set("ocais_session", token)  # a stolen cookie no longer works
    assert_envelope(client.get("/api/v1/session"), 401, "unauthorized")
    client.cookies.clear()


def test_login_attempts_are_rate_limited(api: Api) -> None:
    for _ in range(5):
        response = api.client.post("/api/v1/session", json={"username": "x", "password": "y"})
        assert response.status_code == 401
    response = api.client.post("/api/v1/session", json={"username": "x", "password": "y"})
    assert_envelope(response, 429, "rate_limited")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/api/v1/users", {"admin1"}),
        ("get", "/api/v1/feedback", {"admin1", "researcher"}),
        ("get", "/api/v1/reports/service", {"admin1", "researcher"}),
        ("get", "/api/v1/cases", {"admin1", "researcher", "clinician"}),
        ("get", "/api/v1/knowledge/terms?q=seiz", {"admin1", "researcher", "clinician"}),
        ("get", "/api/v1/version", {"admin1", "researcher", "clinician"}),
    ],
)
def test_role_matrix(api: Api, method: str, path: str, allowed: set[str]) -> None:
    for name in ("admin1", "researcher", "clinician"):
        response = getattr(api.client, method)(path, headers=api.auth(name))
        if name in allowed:
            assert response.status_code == 200, (name, response.text)
        else:
            assert_envelope(response, 403, "forbidden")
    assert_envelope(getattr(api.client, method)(path), 401, "unauthorized")


def test_users_routes(api: Api) -> None:
    admin = api.auth("admin1")
    created = api.client.post(
        "/api/v1/users", json={"name": "res2", "role": "researcher"}, headers=admin
    )
    assert created.status_code == 201 and created.json()["role"] == "researcher"
    again = api.client.post(
        "/api/v1/users", json={"name": "res2", "role": "researcher"}, headers=admin
    )
    assert_envelope(again, 409, "conflict")
    assert_envelope(
        api.client.post("/api/v1/users", json={"name": "x y", "role": "admin"}, headers=admin),
        422,
    )
    assert_envelope(
        api.client.post("/api/v1/users", json={"name": "z1", "role": "god"}, headers=admin), 422
    )
    key = api.client.post("/api/v1/users/res2/keys", headers=admin)
    assert key.status_code == 201
    headers = {"Authorization": f"Bearer {key.json()['api_key']}"}
    assert api.client.get("/api/v1/session", headers=headers).json()["name"] == "res2"
    assert_envelope(api.client.post("/api/v1/users/nobody/keys", headers=admin), 404)

    listed = {u["name"]: u for u in api.client.get("/api/v1/users", headers=admin).json()}
    assert listed["res2"]["n_keys"] == 1 and listed["res2"]["active"]

    disabled = api.client.post("/api/v1/users/res2/disable", headers=admin)
    assert disabled.status_code == 200 and not disabled.json()["active"]
    assert_envelope(api.client.get("/api/v1/session", headers=headers), 401)
    assert api.client.post("/api/v1/users/res2/enable", headers=admin).json()["active"]
    assert api.client.get("/api/v1/session", headers=headers).status_code == 200
    assert_envelope(api.client.post("/api/v1/users/admin1/disable", headers=admin), 409)
    assert_envelope(
        api.client.post("/api/v1/users/res2/disable", headers=api.auth("clinician")), 403
    )


def test_revoked_keys_stop_working(api: Api) -> None:
    api.services.accounts.revoke_keys("clinician")
    assert_envelope(api.client.get("/api/v1/session", headers=api.auth("clinician")), 401)


def test_bootstrap_admin_only_on_an_empty_store(api: Api) -> None:
    assert api.services.accounts.bootstrap_admin() is None  # users exist


def test_bootstrap_admin_on_a_fresh_store(api: Api) -> None:
    from sqlalchemy import delete

    with api.services.repo.transaction() as session:
        session.execute(delete(users_table))
    credentials = api.services.accounts.bootstrap_admin()
    assert credentials is not None and credentials.name == "admin"
    headers = {"Authorization": f"Bearer {credentials.api_key}"}
    assert api.client.get("/api/v1/session", headers=headers).json()["role"] == "admin"
    login = {"username": "admin", "password": credentials.password}
    assert api.client.post("/api/v1/session", json=login).status_code == 200


def test_account_input_checks(api: Api) -> None:
    accounts: Accounts = api.services.accounts
    with pytest.raises(InvalidRecordError, match="too short"):
        accounts.add_user("short", "clinician", password="short")
    with pytest.raises(InvalidRecordError, match="unknown role"):
        accounts.add_user("someone", "nurse")
    with pytest.raises(InvalidRecordError, match="invalid user name"):
        accounts.add_user("-bad", "clinician")


def test_logout_needs_credentials(api: Api) -> None:
    assert_envelope(api.client.delete("/api/v1/session"), 401, "unauthorized")
    assert api.client.delete("/api/v1/session", headers=api.auth("researcher")).status_code == 204


def test_a_burst_with_one_key_runs_scrypt_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from ocais.serve import accounts as accounts_module

    api.add_user("burst", "clinician")
    key = api.auth("burst")["Authorization"].removeprefix("Bearer ")
    calls: list[int] = []
    real = accounts_module.verify_secret

    def counting(secret: str, stored: str) -> bool:
        calls.append(1)
        return real(secret, stored)

    monkeypatch.setattr(accounts_module, "verify_secret", counting)
    accounts = api.services.accounts
    accounts.forget(api.users["burst"])
    barrier = threading.Barrier(10)
    results = []

    def check() -> None:
        barrier.wait()
        results.append(accounts.authenticate_key(key))

    threads = [threading.Thread(target=check) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(r is not None and r.name == "burst" for r in results)
