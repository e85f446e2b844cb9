"""Accounts: API keys hashed at rest, sessions with CSRF, roles, disabling, the users routes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from ocais.errors import InvalidRecordError
from ocais.serve import security
from ocais.serve.accounts import API_KEY_SECRET, Accounts
from ocais.serve.security import (
    api_hash_needs_rehash,
    hash_api_secret,
    hash_password,
    new_server_key,
    password_needs_rehash,
    scrypt_hash,
    split_api_key,
    token_digest,
    verify_api_secret,
    verify_password,
)
from ocais.store.service_models import (
    api_keys_table,
    server_secrets_table,
    sessions_table,
    users_table,
)
from ocais.store.service_repo import ServiceRepository
from tests.serve.conftest import Api, assert_envelope

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_passwords_are_argon2id_with_owasp_parameters() -> None:
    stored = hash_password(PASSWORD)
    # PHC string: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
    empty, scheme, version, params, salt, digest = stored.split("$")
    assert (empty, scheme, version) == ("", "argon2id", "v=19")
    assert dict(kv.split("=") for kv in params.split(",")) == {"m": "19456", "t": "2", "p": "1"}
    assert len(base64.b64decode(salt + "==")) == 16 and len(base64.b64decode(digest + "==")) == 32
    assert PASSWORD not in stored and hash_password(PASSWORD) != stored  # salted
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert not verify_password(PASSWORD, "garbage")
    assert not verify_password(PASSWORD, "$argon2id$v=19$m=19456,t=2,p=1$broken")
    assert not password_needs_rehash(stored)
    weaker = stored.replace("m=19456,t=2", "m=19456,t=1")
    assert password_needs_rehash(weaker)


@pytest.mark.usefixtures("real_scrypt")
def test_legacy_scrypt_hashes_still_verify() -> None:
    old_password = scrypt_hash(PASSWORD, security.PASSWORD_COST)
    assert old_password.startswith("scrypt$32768$8$1$")
    assert verify_password(PASSWORD, old_password)
    assert not verify_password(PASSWORD + "!", old_password)
    assert password_needs_rehash(old_password)

    old_key = scrypt_hash("s3cret")
    assert old_key.startswith("scrypt$16384$8$1$") and "s3cret" not in old_key
    assert verify_api_secret("s3cret", old_key, new_server_key())
    assert not verify_api_secret("s3cret!", old_key, new_server_key())
    assert api_hash_needs_rehash(old_key)


def test_api_key_hashes_are_keyed_hmacs() -> None:
    server_key, other_server = new_server_key(), new_server_key()
    stored = hash_api_secret("s3cret", server_key)
    assert stored.startswith("hmac-sha256$") and "s3cret" not in stored
    assert stored == hash_api_secret("s3cret", server_key)  # deterministic: no salt needed
    assert stored != hash_api_secret("s3cret", other_server)
    assert verify_api_secret("s3cret", stored, server_key)
    assert not verify_api_secret("s3cret!", stored, server_key)
    assert not verify_api_secret("s3cret", stored, other_server)
    assert not verify_api_secret("s3cret", "garbage", server_key)
    assert not api_hash_needs_rehash(stored)
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


def test_a_burst_with_one_key_is_checked_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from ocais.serve import accounts as accounts_module

    api.add_user("burst", "clinician")
    key = api.auth("burst")["Authorization"].removeprefix("Bearer ")
    calls: list[int] = []
    real = accounts_module.verify_api_secret

    def counting(secret: str, stored: str, server_key: str) -> bool:
        calls.append(1)
        return real(secret, stored, server_key)

    monkeypatch.setattr(accounts_module, "verify_api_secret", counting)
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


def _stored_key_hash(api: Api, prefix: str) -> str:
    with api.services.repo.engine.connect() as conn:
        stmt = select(api_keys_table.c.key_hash).where(api_keys_table.c.prefix == prefix)
        return str(conn.execute(stmt).scalar_one())


def test_api_key_lookup_and_wrong_keys(api: Api) -> None:
    key = api.add_user("lookup", "clinician")["Authorization"].removeprefix("Bearer ")
    prefix, secret = split_api_key(key)  # type: ignore[misc]
    assert _stored_key_hash(api, prefix).startswith("hmac-sha256$")
    accounts = api.services.accounts
    principal = accounts.authenticate_key(key)
    assert principal is not None and principal.name == "lookup" and principal.via == "key"
    assert accounts.authenticate_key(f"ocais_{prefix}_{secret[:-1]}x") is None  # wrong secret
    assert accounts.authenticate_key(f"ocais_{'0' * 12}_{secret}") is None  # unknown prefix
    assert accounts.authenticate_key(f"other_{prefix}_{secret}") is None  # malformed
    wrong = {"Authorization": f"Bearer ocais_{prefix}_not-the-secret"}
    assert_envelope(api.client.get("/api/v1/session", headers=wrong), 401, "unauthorized")


def test_server_key_is_created_once_and_shared(api: Api) -> None:
    accounts = api.services.accounts
    server_key = accounts.server_key()
    with api.services.repo.engine.connect() as conn:
        rows = conn.execute(select(server_secrets_table)).all()
    assert [(r.name, r.value) for r in rows] == [(API_KEY_SECRET, server_key)]
    # another process on the same store (e.g. `ocais users` on the CLI) uses the same key
    other = Accounts(ServiceRepository(api.services.repo.engine))
    assert other.server_key() == server_key
    _, key = other.issue_key("clinician")
    assert accounts.authenticate_key(key) is not None
    store = ServiceRepository(api.services.repo.engine)
    assert store.server_secret(API_KEY_SECRET, new_server_key(), now=NOW) == server_key


@pytest.mark.usefixtures("real_scrypt")
def test_a_legacy_scrypt_key_works_and_is_rehashed(api: Api) -> None:
    user = api.services.accounts.store.get_user_by_name("researcher")
    prefix, secret = "0123456789ab", "a-legacy-secret-of-a-key-issued-before-revision-0003"
    api.services.accounts.store.add_api_key(user.id, prefix, scrypt_hash(secret), now=NOW)
    headers = {"Authorization": f"Bearer ocais_{prefix}_{secret}"}
    wrong = {"Authorization": f"Bearer ocais_{prefix}_{secret}x"}
    assert_envelope(api.client.get("/api/v1/session", headers=wrong), 401)
    assert _stored_key_hash(api, prefix).startswith("scrypt$")  # a wrong key changes nothing

    assert api.client.get("/api/v1/session", headers=headers).json()["name"] == "researcher"
    rehashed = _stored_key_hash(api, prefix)
    assert rehashed == hash_api_secret(secret, api.services.accounts.server_key())
    api.services.accounts.forget(user.id)
    assert api.client.get("/api/v1/session", headers=headers).json()["name"] == "researcher"
    assert_envelope(api.client.get("/api/v1/session", headers=wrong), 401)


@pytest.mark.usefixtures("real_scrypt")
def test_a_legacy_scrypt_password_logs_in_and_is_rehashed(api: Api) -> None:
    accounts = api.services.accounts
    accounts.add_user("olddoc", "clinician")
    accounts.store.set_password("olddoc", scrypt_hash(PASSWORD, security.PASSWORD_COST))

    def stored() -> str:
        found = accounts.store.password_hash("olddoc")
        assert found is not None and found[1] is not None
        return found[1]

    assert accounts.login("olddoc", PASSWORD + "!") is None
    assert stored().startswith("scrypt$")  # a wrong password changes nothing

    assert accounts.login("olddoc", PASSWORD) is not None
    assert stored().startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert accounts.login("olddoc", PASSWORD) is not None
    assert accounts.login("olddoc", PASSWORD + "!") is None
