"""``/api/v1/packages``: this site's registry of evidence packages, for other sites.

Listing, reading and downloading need no account while ``OCAIS_SERVE_REGISTRY_PUBLIC`` is true
(the default: packages are signed, privacy-gated evidence meant to travel); uploading needs a
researcher (or admin), and an upload is verified against *this* site's trust like a pull.
``/registry`` is the page researchers read lineage on.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse

from ocais.errors import ConfigError
from ocais.serve.accounts import Principal
from ocais.serve.deps import Researcher, ServicesDep, audit, require
from ocais.serve.errors import ApiError
from ocais.serve.schemas.common import ERROR_RESPONSES
from ocais.share.package import parse_ref
from ocais.workflows.sharing import (
    get_package,
    list_packages,
    package_lineage,
    package_versions,
    publish_package,
)

router = APIRouter(prefix="/packages", tags=["packages"], responses=ERROR_RESPONSES)


def _ref(name: str, version: str | None = None) -> str:
    """``NAME[@VERSION]`` of a URL, 404 when it cannot name a package (not a server error)."""
    ref = name if version is None else f"{name}@{version}"
    try:
        parse_ref(ref)
    except ConfigError as exc:
        raise ApiError(404, "not_found", exc.message, hint=exc.hint) from exc
    return ref


page_router = APIRouter(include_in_schema=False)
UPLOAD_PATH = "/api/v1/packages"


async def registry_reader(request: Request) -> Principal | None:
    """Anyone while the registry is public; else any signed-in user."""
    if request.app.state.services.serve.registry_public:
        return None
    return await require("clinician", "researcher", "admin")(request)


RegistryReader = Annotated[Principal | None, Depends(registry_reader)]


@router.get("", name="packages.list")
def list_all(
    services: ServicesDep,
    reader: RegistryReader,
    q: Annotated[str | None, Query(max_length=200, description="Words in name/site")] = None,
    kind: Annotated[str | None, Query(description="dataset, model, adapter, evaluation")] = None,
) -> dict[str, Any]:
    """The installed packages (every version), newest version last per name."""
    return {"packages": [p.as_dict() for p in list_packages(services.core, q, kind)]}


@router.get("/{name}", name="packages.versions")
def versions(name: str, services: ServicesDep, reader: RegistryReader) -> dict[str, Any]:
    """The versions of one package (404 when none is installed)."""
    found = package_versions(services.core, _ref(name))
    if not found:
        raise ApiError(404, "not_found", f"no package named {name}", hint="GET /api/v1/packages")
    return {"name": name, "versions": [p.as_dict() for p in found]}


@router.get("/{name}/lineage", name="packages.lineage")
def lineage(name: str, services: ServicesDep, reader: RegistryReader) -> dict[str, Any]:
    """Sources (hashes) → synthetic set (privacy) → model → evaluations, as far as installed."""
    return package_lineage(services.core, _ref(name))


@router.get("/{name}/{version}", name="packages.show")
def show(name: str, version: str, services: ServicesDep, reader: RegistryReader) -> dict[str, Any]:
    """A version's full manifest (files, lineage, privacy, evaluation) and card."""
    package = get_package(services.core, _ref(name, version))
    card = package.root / "README.md"
    return {
        **package.as_dict(),
        "manifest": package.manifest.model_dump(mode="json"),
        "card": card.read_text(encoding="utf-8") if card.is_file() else "",
    }


@router.get("/{name}/{version}/download", name="packages.download")
def download(
    name: str, version: str, request: Request, services: ServicesDep, reader: RegistryReader
) -> FileResponse:
    """The signed package file, exactly as installed here (verify it where it lands)."""
    package = get_package(services.core, _ref(name, version))
    audit(request, package=package.manifest.ref)
    return FileResponse(
        package.file,
        media_type="application/gzip",
        filename=f"{name}-{version}.tar.gz",
        headers={"X-Package-SHA256": package.sha256},
    )


@router.post("", name="packages.upload", status_code=201)
async def upload(request: Request, services: ServicesDep, principal: Researcher) -> dict[str, Any]:
    """Upload a package file (the raw bytes, ``application/octet-stream``). It is verified
    against this site's trust and installed atomically: 403 when its signer is not trusted,
    422 when it is altered or incomplete, 409 when that version exists with other content."""
    root = services.settings.resolved_packages_dir
    root.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".upload-", suffix=".tar.gz", dir=root)
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            async for block in request.stream():
                out.write(block)
        if path.stat().st_size == 0:
            raise ApiError(400, "bad_request", "the request has no body", hint="send the file")
        done = await anyio.to_thread.run_sync(
            lambda: publish_package(services.core, path, origin=f"upload by {principal.name}")
        )
    finally:
        path.unlink(missing_ok=True)
    audit(request, package=done.package.manifest.ref)
    return {**done.package.as_dict(), "installed": done.installed}


# --- the page -----------------------------------------------------------------------------------
@page_router.get("/registry", name="registry.page")
def registry_page(services: ServicesDep, reader: RegistryReader) -> HTMLResponse:
    """Every installed package with its lineage, for researchers."""
    packages = list_packages(services.core)
    sections = []
    for name in dict.fromkeys(p.manifest.name for p in packages):
        chain = package_lineage(services.core, name)
        sections.append(f"<section><h2>{html.escape(name)}</h2>{_node_html(chain)}</section>")
    body = "".join(sections) or "<p>No package is installed yet.</p>"
    return HTMLResponse(_PAGE.format(body=body))


def _node_html(node: dict[str, Any]) -> str:
    def item(title: str, value: Any) -> str:
        if not value:
            return ""
        text = json.dumps(value, indent=1) if isinstance(value, dict | list) else str(value)
        return f"<details><summary>{title}</summary><pre>{html.escape(text)}</pre></details>"

    parts = [
        f"<div class='node {html.escape(node['kind'])}'>",
        f"<h3>{html.escape(node['ref'])} <small>{html.escape(node['kind'])} · site "
        f"{html.escape(node['site'])} · signer {html.escape(node['signer'][:16])}…</small></h3>",
        f"<p class='headline'>{html.escape(headline(node))}</p>",
        item("summary", node.get("summary")),
        item("privacy", node.get("privacy")),
        item("evaluation", node.get("evaluation")),
        item("sources (hashes only)", node.get("sources")),
    ]
    for parent in node.get("parents") or []:
        parts.append(f"<div class='arrow'>made from</div>{_node_html(parent)}")
    for child in node.get("derived") or []:
        parts.append(f"<p>used by {html.escape(child['ref'])} ({html.escape(child['kind'])})</p>")
    parts.append("</div>")
    return "".join(parts)


def _pct(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, int | float) else "—"


def headline(node: dict[str, Any]) -> str:
    """The figures a researcher looks for first, in one line."""
    summary, privacy = node.get("summary") or {}, node.get("privacy") or {}
    if node["kind"] == "dataset":
        gate = "passed" if (privacy.get("gate") or {}).get("passed") else "not passed"
        auc = privacy.get("mia_auc")
        shown = f"{auc:.3f}" if isinstance(auc, float) else "—"
        return (
            f"{summary.get('n_cases', '?')} synthetic patients, {summary.get('n_diseases', '?')} "
            f"diseases; privacy gate {gate} (membership-inference AUC {shown}, exact copies "
            f"{privacy.get('exact_copies', '—')})"
        )
    if node["kind"] == "model":
        return (
            f"fitted on {summary.get('n_cases', '?')} synthetic patients, "
            f"{summary.get('n_diseases', '?')} diseases; cross-fitted top-1 "
            f"{_pct(summary.get('cross_fitted_top1'))}"
        )
    if node["kind"] == "evaluation":
        predictors = ((node.get("evaluation") or {}).get("predictors")) or {}
        tops = ", ".join(
            f"{name} {_pct((result.get('metrics') or {}).get('top1'))}"
            for name, result in predictors.items()
        )
        return f"{summary.get('n_cases', '?')} held-out real cases; top-1 {tops}"
    base = (summary.get("base_model") or {}).get("name")
    return f"LoRA adapter of {base}, {len(summary.get('diseases') or [])} diseases"


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>OCAIS registry</title><style>
body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
.node{{border:1px solid #bbb;border-radius:6px;padding:.5rem 1rem;margin:.5rem 0}}
.node.dataset{{border-color:#2a7}}.node.model{{border-color:#27a}}
.node.evaluation{{border-color:#a72}}.arrow{{color:#666;margin:.3rem 0}}
.headline{{margin:.2rem 0 .4rem}}
pre{{background:#f6f6f6;padding:.5rem;overflow:auto;max-height:20rem}}small{{color:#555}}
</style></head><body><h1>Evidence packages of this site</h1>
<p>Each package is signed; its chain runs from de-identified sources (hashes only) through
the synthetic set and its privacy report to models and their evaluations.</p>{body}</body></html>
"""
