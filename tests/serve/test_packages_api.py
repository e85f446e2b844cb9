"""``/api/v1/packages`` and ``/registry``: this site's registry of evidence packages over HTTP
(public reads, researcher uploads verified against this site's trust)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocais.config import Settings
from ocais.share.package import PAYLOAD_DIR, Built
from ocais.share.signing import SiteKey
from ocais.workflows.sharing import publish_package
from tests.serve.conftest import Api, AppFactory, assert_envelope, open_api, serve_settings
from tests.share.test_packages import alter_one_byte, make_package, rewrite

LIST = "/api/v1/packages"


@pytest.fixture
def site_key(settings: Settings) -> SiteKey:
    """This site's own signing key, where the service looks for it."""
    return SiteKey.create(settings.resolved_keys_dir, "site")


def make(
    tmp_path: Path, key: SiteKey, *, name: str = "demo", version: str = "1.0.0", text: str = "hi"
) -> Built:
    """A model package signed by ``key`` (built outside the service's data dir)."""
    folder = tmp_path / "built"
    folder.mkdir(exist_ok=True)
    return make_package(folder, key, name=name, version=version, text=text)


@pytest.fixture
def package(tmp_path: Path, site_key: SiteKey) -> Built:
    return make(tmp_path, site_key)


def installed_names(settings: Settings) -> list[str]:
    root = settings.resolved_packages_dir
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def upload(api: Api, file: Path, who: str | None = "researcher") -> Any:
    headers = {"Content-Type": "application/octet-stream"}
    if who is not None:
        headers.update(api.auth(who))
    return api.client.post(LIST, content=file.read_bytes(), headers=headers)


def test_the_registry_lives_in_the_data_dir(settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert settings.resolved_keys_dir == data / "keys"
    assert settings.resolved_packages_dir == data / "packages"
    assert settings.resolved_trust_file == data / "trust.json"


def test_public_reads(api: Api, package: Built, settings: Settings) -> None:
    client = api.client
    listed = client.get(LIST)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"packages": []}

    done = publish_package(api.services.core, package.path)
    assert done.installed and done.package.trust == "own key"

    listed = client.get(LIST)
    assert listed.status_code == 200
    [entry] = listed.json()["packages"]
    assert (entry["name"], entry["version"], entry["kind"]) == ("demo", "1.0.0", "model")
    assert entry["sha256"] == package.sha256 and entry["trust"] == "own key"
    assert client.get(LIST, params={"kind": "dataset"}).json() == {"packages": []}
    assert len(client.get(LIST, params={"kind": "model"}).json()["packages"]) == 1
    assert client.get(LIST, params={"q": "nothing-like-it"}).json() == {"packages": []}

    versions = client.get(f"{LIST}/demo")
    assert versions.status_code == 200
    assert [v["version"] for v in versions.json()["versions"]] == ["1.0.0"]

    shown = client.get(f"{LIST}/demo/1.0.0")
    assert shown.status_code == 200
    body = shown.json()
    assert body["manifest"]["name"] == "demo" and body["manifest"]["kind"] == "model"
    assert body["manifest"]["content_sha256"] == package.manifest.content_sha256
    assert {f["path"] for f in body["manifest"]["files"]} == {
        "README.md",
        f"{PAYLOAD_DIR}/a.json",
        f"{PAYLOAD_DIR}/sub/b.txt",
    }
    assert body["card"].startswith("# card")

    download = client.get(f"{LIST}/demo/1.0.0/download")
    assert download.status_code == 200
    assert download.content == package.path.read_bytes()
    assert download.headers["x-package-sha256"] == package.sha256
    assert hashlib.sha256(download.content).hexdigest() == package.sha256
    assert download.headers["content-type"] == "application/gzip"
    assert "demo-1.0.0.tar.gz" in download.headers["content-disposition"]

    chain = client.get(f"{LIST}/demo/lineage")
    assert chain.status_code == 200
    assert chain.json()["ref"] == "demo@1.0.0" and chain.json()["kind"] == "model"

    page = client.get("/registry")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h2>demo</h2>" in page.text and "demo@1.0.0" in page.text


def test_unknown_packages_are_404(api: Api, package: Built) -> None:
    publish_package(api.services.core, package.path)
    client = api.client
    assert_envelope(client.get(f"{LIST}/nothing"), 404, "not_found")
    assert_envelope(client.get(f"{LIST}/nothing/1.0.0"), 404, "not_found")
    assert_envelope(client.get(f"{LIST}/demo/2.0.0"), 404, "not_found")
    assert_envelope(client.get(f"{LIST}/demo/2.0.0/download"), 404, "not_found")
    assert_envelope(client.get(f"{LIST}/nothing/lineage"), 404, "not_found")


@pytest.mark.parametrize("path", [f"{LIST}/Not_A_Name", f"{LIST}/demo/latest"])
def test_a_malformed_name_is_a_client_error(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert 400 <= response.status_code < 500, response.text


def test_registry_page_without_packages(api: Api) -> None:
    page = api.client.get("/registry")
    assert page.status_code == 200
    assert "No package is installed yet" in page.text


def test_upload_needs_a_researcher(api: Api, package: Built, settings: Settings) -> None:
    assert_envelope(upload(api, package.path, who=None), 401, "unauthorized")
    assert_envelope(upload(api, package.path, who="clinician"), 403, "forbidden")
    assert installed_names(settings) == []

    created = upload(api, package.path)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["installed"] is True
    assert (body["name"], body["version"], body["sha256"]) == ("demo", "1.0.0", package.sha256)
    assert body["trust"] == "own key" and body["origin"] == "upload by researcher"
    assert api.client.get(f"{LIST}/demo/1.0.0/download").content == package.path.read_bytes()

    again = upload(api, package.path, who="admin1")
    assert again.status_code == 201 and again.json()["installed"] is False
    leftovers = [p.name for p in settings.resolved_packages_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_an_upload_signed_by_an_untrusted_key_installs_nothing(
    api: Api, tmp_path: Path, site_key: SiteKey, settings: Settings
) -> None:
    other = SiteKey.create(tmp_path / "other-keys", "elsewhere")
    foreign = make(tmp_path, other, name="foreign")
    refused = upload(api, foreign.path)
    error = assert_envelope(refused, 403, "package_untrusted")
    assert other.info.fingerprint in error["message"]
    assert "foreign" not in installed_names(settings)
    assert api.client.get(LIST).json() == {"packages": []}
    assert [p for p in installed_names(settings) if p.startswith(".")] == []


def test_an_altered_upload_is_422(
    api: Api, tmp_path: Path, package: Built, settings: Settings
) -> None:
    broken = rewrite(package.path, tmp_path / "broken.tar.gz", alter_one_byte)
    error = assert_envelope(upload(api, broken), 422, "package_invalid")
    assert "altered" in error["message"]
    assert installed_names(settings) == []
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not a package")
    assert_envelope(upload(api, garbage), 422, "package_invalid")
    assert installed_names(settings) == []


def test_an_upload_with_other_content_under_the_same_version_is_409(
    api: Api, tmp_path: Path, site_key: SiteKey, package: Built
) -> None:
    assert upload(api, package.path).status_code == 201
    other = make(tmp_path, site_key, name="demo", version="1.0.0", text="other")
    assert_envelope(upload(api, other.path), 409, "package_conflict")
    assert api.client.get(f"{LIST}/demo/1.0.0").json()["sha256"] == package.sha256


def test_an_empty_upload_is_400(api: Api, settings: Settings) -> None:
    response = api.client.post(
        LIST,
        content=b"",
        headers={**api.auth("researcher"), "Content-Type": "application/octet-stream"},
    )
    assert_envelope(response, 400, "bad_request")
    assert installed_names(settings) == []


@pytest.fixture
def private_api(make_app: AppFactory) -> Iterator[Api]:
    yield from open_api(make_app(serve=serve_settings(registry_public=False)))


def test_a_private_registry_needs_an_account(private_api: Api, package: Built) -> None:
    publish_package(private_api.services.core, package.path)
    client = private_api.client
    for path in [
        LIST,
        f"{LIST}/demo",
        f"{LIST}/demo/1.0.0",
        f"{LIST}/demo/1.0.0/download",
        f"{LIST}/demo/lineage",
        "/registry",
    ]:
        assert_envelope(client.get(path), 401, "unauthorized")
    signed_in = client.get(LIST, headers=private_api.auth("clinician"))
    assert signed_in.status_code == 200
    assert [p["name"] for p in signed_in.json()["packages"]] == ["demo"]
    page = client.get("/registry", headers=private_api.auth("researcher"))
    assert page.status_code == 200 and "demo" in page.text


@pytest.fixture
def small_api(make_app: AppFactory) -> Iterator[Api]:
    yield from open_api(make_app(serve=serve_settings(max_package_bytes=1000)))


def test_an_upload_over_the_limit_is_413(
    small_api: Api, package: Built, settings: Settings
) -> None:
    assert package.size > 1000
    too_big = upload(small_api, package.path)
    error = assert_envelope(too_big, 413, "payload_too_large")
    assert "1,000" in error["message"]
    assert installed_names(settings) == []


def test_a_streamed_upload_over_the_limit_is_413(
    small_api: Api, package: Built, settings: Settings
) -> None:
    data = package.path.read_bytes()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 256):
            yield data[start : start + 256]

    response = small_api.client.post(
        LIST,
        content=chunks(),
        headers={**small_api.auth("researcher"), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 413, response.text
    names = installed_names(settings)
    assert "demo" not in names and [n for n in names if n.startswith(".")] == []


def test_the_registry_page_headlines() -> None:
    from ocais.serve.routes.packages import headline

    dataset = {
        "kind": "dataset",
        "summary": {"n_cases": 5, "n_diseases": 2},
        "privacy": {"gate": {"passed": True}, "mia_auc": 0.5234, "exact_copies": 0},
    }
    assert headline(dataset) == (
        "5 synthetic patients, 2 diseases; privacy gate passed (membership-inference AUC 0.523, "
        "exact copies 0)"
    )
    model = {"kind": "model", "summary": {"n_cases": 9, "n_diseases": 3, "cross_fitted_top1": 0.5}}
    assert headline(model) == "fitted on 9 synthetic patients, 3 diseases; cross-fitted top-1 50.0%"
    evaluation = {
        "kind": "evaluation",
        "summary": {"n_cases": 4},
        "evaluation": {"predictors": {"learned": {"metrics": {"top1": 0.25}}}},
    }
    assert headline(evaluation) == "4 held-out real cases; top-1 learned 25.0%"
