"""Talking to another site's registry (``ocais serve``): list, download, upload packages.

Downloads stream into a file beside the local registry and are checked against the size and
SHA-256 the registry lists before anything else looks at them; the caller then verifies and
installs (``Registry.install``), so a broken connection leaves nothing installed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ocais.errors import ConfigError, NotFoundError, PackageError
from ocais.share.package import version_key

API = "/api/v1"
Progress = Callable[[str, int, int | None], None]


def api_base(url: str) -> str:
    """``http://host:8000`` or ``http://host:8000/api/v1`` → the API root."""
    cleaned = url.strip().rstrip("/")
    if not cleaned.startswith(("http://", "https://")):
        raise ConfigError(f"{url!r} is not an http(s) URL", hint="e.g. http://site-a:8000")
    return cleaned if cleaned.endswith(API) else cleaned + API


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _error(response: httpx.Response, what: str) -> PackageError | NotFoundError | ConfigError:
    try:
        body = response.json().get("error") or {}
    except ValueError:
        body = {}
    message = body.get("message") or response.reason_phrase
    hint = body.get("hint")
    text = f"{what}: HTTP {response.status_code}: {message}"
    if response.status_code == 404:
        return NotFoundError(text, hint=hint)
    if response.status_code in (401, 403):
        return ConfigError(
            text,
            hint=hint or "pass --api-key (or OCAIS_REGISTRY_API_KEY) of a researcher at that site",
        )
    return PackageError(text, hint=hint)


def _client(timeout: float) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=False)


def remote_versions(url: str, name: str, *, api_key: str | None, timeout: float = 60) -> list[Any]:
    base = api_base(url)
    try:
        with _client(timeout) as client:
            response = client.get(f"{base}/packages/{quote(name)}", headers=_headers(api_key))
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"cannot reach {base}: {exc}", hint="is `ocais serve` running there?"
        ) from exc
    if response.status_code != 200:
        raise _error(response, f"listing {name} at {base}")
    versions = response.json().get("versions") or []
    return sorted(versions, key=lambda v: version_key(str(v.get("version"))))


def download(
    url: str,
    name: str,
    version: str | None,
    into: Path,
    *,
    api_key: str | None,
    timeout: float = 600,
    progress: Progress | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Download ``name`` (its latest version unless ``version``) into a new file in ``into``;
    returns the file and the registry's listing entry. The file's size and SHA-256 must match
    the listing (a truncated download raises and leaves no file)."""
    versions = remote_versions(url, name, api_key=api_key)
    if version is not None:
        versions = [v for v in versions if v.get("version") == version]
    if not versions:
        raise NotFoundError(
            f"{url} has no package {name}{'@' + version if version else ''}",
            hint="see what it offers: GET /api/v1/packages",
        )
    entry = versions[-1]
    base = api_base(url)
    into.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".download-", suffix=".tar.gz", dir=into)
    digest = hashlib.sha256()
    received = 0
    expected = int(entry.get("size") or 0) or None
    try:
        with os.fdopen(handle, "wb") as out, _client(timeout) as client:
            link = f"{base}/packages/{quote(name)}/{quote(str(entry['version']))}/download"
            with client.stream("GET", link, headers=_headers(api_key)) as response:
                if response.status_code != 200:
                    response.read()
                    raise _error(response, f"downloading {name}@{entry['version']}")
                for block in response.iter_bytes(1 << 20):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    if progress is not None:
                        progress("download", received, expected)
        if expected is not None and received != expected:
            raise PackageError(
                f"the download of {name}@{entry['version']} stopped at {received:,} of "
                f"{expected:,} bytes",
                hint="pull again",
            )
        if entry.get("sha256") and digest.hexdigest() != entry["sha256"]:
            raise PackageError(
                f"the downloaded file's SHA-256 is not the one {base} lists", hint="pull again"
            )
    except httpx.HTTPError as exc:
        Path(staging).unlink(missing_ok=True)
        raise PackageError(f"the download from {base} failed: {exc}", hint="pull again") from exc
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return Path(staging), entry


def upload(url: str, file: Path, *, api_key: str | None, timeout: float = 600) -> dict[str, Any]:
    """POST a package file to another site's registry (it verifies it against its own trust)."""
    if not api_key:
        raise ConfigError(
            "pushing needs an API key of a researcher at the receiving site",
            hint="pass --api-key KEY or set OCAIS_REGISTRY_API_KEY (`ocais users key NAME` there)",
        )
    base = api_base(url)
    try:
        with _client(timeout) as client, file.open("rb") as body:
            response = client.post(
                f"{base}/packages",
                content=body,
                headers={**_headers(api_key), "Content-Type": "application/octet-stream"},
            )
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"cannot reach {base}: {exc}", hint="is `ocais serve` running there?"
        ) from exc
    if response.status_code not in (200, 201):
        raise _error(response, f"pushing {file.name} to {base}")
    result: dict[str, Any] = response.json()
    return result
