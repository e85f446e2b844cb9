"""Another site's registry over HTTP (ocais.share.client): a broken download leaves nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from ocais.errors import ConfigError, NotFoundError, PackageError
from ocais.share import client
from ocais.share.client import api_base, download, upload

BODY = b"x" * 1000


def serve(monkeypatch: pytest.MonkeyPatch, *, sent: bytes, listed_sha: str | None = None) -> None:
    """A fake registry listing one package of ``len(BODY)`` bytes that sends ``sent``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/packages/demo":
            entry = {
                "name": "demo",
                "version": "1.0.0",
                "size": len(BODY),
                "sha256": listed_sha or hashlib.sha256(BODY).hexdigest(),
            }
            return httpx.Response(200, json={"name": "demo", "versions": [entry]})
        if request.url.path == "/api/v1/packages/demo/1.0.0/download":
            return httpx.Response(200, content=sent)
        return httpx.Response(
            404, json={"error": {"code": "not_found", "message": "no package", "hint": "list"}}
        )

    monkeypatch.setattr(
        client, "_client", lambda timeout: httpx.Client(transport=httpx.MockTransport(handler))
    )


def test_a_complete_download(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    serve(monkeypatch, sent=BODY)
    seen: list[tuple[int, int | None]] = []
    path, entry = download(
        "http://site-a:8000",
        "demo",
        None,
        tmp_path,
        api_key=None,
        progress=lambda task, done, total: seen.append((done, total)),
    )
    assert path.read_bytes() == BODY and entry["version"] == "1.0.0"
    assert seen[-1] == (len(BODY), len(BODY))


@pytest.mark.parametrize(
    ("sent", "listed", "reason"),
    [
        (BODY[:500], None, "stopped at 500 of 1,000 bytes"),
        (b"y" * 1000, None, "SHA-256 is not the one"),
        (BODY, "0" * 64, "SHA-256 is not the one"),
    ],
)
def test_a_broken_download_leaves_no_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sent: bytes, listed: str | None, reason: str
) -> None:
    serve(monkeypatch, sent=sent, listed_sha=listed)
    with pytest.raises(PackageError, match=reason):
        download("http://site-a:8000", "demo", None, tmp_path, api_key=None)
    assert list(tmp_path.iterdir()) == []


def test_missing_packages_and_versions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    serve(monkeypatch, sent=BODY)
    with pytest.raises(NotFoundError, match="no package"):
        download("http://site-a:8000", "other", None, tmp_path, api_key=None)
    with pytest.raises(NotFoundError, match=r"demo@2\.0\.0"):
        download("http://site-a:8000", "demo", "2.0.0", tmp_path, api_key=None)
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_site(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot reach"):
        download("http://127.0.0.1:9", "demo", None, tmp_path, api_key=None)


def test_urls_and_keys(tmp_path: Path) -> None:
    assert api_base("http://a:8000/") == "http://a:8000/api/v1"
    assert api_base("https://a/api/v1") == "https://a/api/v1"
    with pytest.raises(ConfigError, match="not an http"):
        api_base("site-a:8000")
    with pytest.raises(ConfigError, match="API key of a researcher"):
        upload("http://a:8000", tmp_path / "f.tar.gz", api_key=None)
