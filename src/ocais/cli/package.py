"""``ocais package``: build, verify, inspect, publish, push, pull, list and trace evidence
packages. Refusals (an altered file, an untrusted signer, a missing file) exit with code 1 and
the reason; bad input exits with 2."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from ocais.cli.context import (
    JsonFlag,
    console,
    emit_json,
    err_console,
    fail,
    progress_bar,
    state,
    wants_json,
)
from ocais.errors import OcaisError, PackageError
from ocais.share.trust import KINDS
from ocais.workflows.sharing import (
    DEFAULT_LICENSE,
    build_package,
    inspect_package,
    list_packages,
    package_lineage,
    publish_package,
    pull_package,
    push_package,
    verify_package,
)

app = typer.Typer(
    help="Evidence packages: signed synthetic sets, models, adapters and evaluations shared "
    "between sites.",
    no_args_is_help=True,
)

ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="API key at the other site (default: the OCAIS_REGISTRY_API_KEY variable).",
        envvar=None,
    ),
]


def _refuse(exc: OcaisError) -> typer.Exit:
    """A package refused (exit 1) or bad input (exit 2), with the reason and the fix."""
    exit_ = fail(exc)
    return typer.Exit(code=1) if isinstance(exc, PackageError) else exit_


def _summary(manifest: Any) -> dict[str, Any]:
    return {
        "name": manifest.name,
        "version": manifest.version,
        "kind": manifest.kind,
        "site": manifest.creator.site,
        "fingerprint": manifest.creator.fingerprint,
        "content_sha256": manifest.content_sha256,
        "files": len(manifest.files),
    }


@app.command("build")
def build_command(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=f"What to package: {', '.join(KINDS)}.")],
    path: Annotated[
        Path,
        typer.Argument(
            help="The folder: a released synthetic set (`ocais synth release`), a model "
            "(`ocais learn fit`), an adapter (`ocais finetune run`) or a benchmark --out."
        ),
    ],
    name: Annotated[str, typer.Option(help="Package name (lower-case, e.g. shared-dev).")],
    version: Annotated[str, typer.Option(help="Semantic version, e.g. 1.0.0.")],
    out: Annotated[Path, typer.Option(help="Package file to write (.tar.gz), or a folder.")],
    license: Annotated[str, typer.Option(help="License of the contents (SPDX id).")] = (
        DEFAULT_LICENSE
    ),
    description: Annotated[str, typer.Option(help="One paragraph for the card.")] = "",
    evaluation: Annotated[
        Path | None,
        typer.Option(help="With a model: a benchmark --out folder of it on held-out real cases."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Check the artifact (the privacy gate for datasets; synthetic-only training for models),
    write its card and lineage, sign it with this site's key and write one package file."""
    cli = state(ctx)
    try:
        built = build_package(
            cli.services,
            kind,
            path,
            name=name,
            version=version,
            out=out,
            license=license,
            description=description,
            evaluation_dir=evaluation,
        )
    except OcaisError as exc:
        raise _refuse(exc) from exc
    result = {
        **_summary(built.manifest),
        "file": str(built.path),
        "sha256": built.sha256,
        "size": built.size,
    }
    if wants_json(cli, json_output):
        emit_json(result)
        return
    console.print(
        f"Built {escape(built.manifest.ref)} ({kind}, {len(built.manifest.files)} files, "
        f"{built.size:,} bytes), signed by {escape(built.manifest.creator.site)}."
    )
    console.print(f"File: {escape(str(built.path))}  sha256 {built.sha256}")
    console.print("Publish it here: ocais package publish FILE")


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A package file.")],
    json_output: JsonFlag = False,
) -> None:
    """Check every file's SHA-256, the signature and that this site trusts the signer for the
    kind; exit 1 with the reason if any check fails. Installs nothing."""
    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        verified = verify_package(cli.services, file)
    except PackageError as exc:
        if as_json:
            emit_json({"valid": False, "code": exc.code, "reason": exc.message, "hint": exc.hint})
        err_console.print(f"[bold red]refused[/] ({exc.code}): {escape(str(exc))}")
        raise typer.Exit(code=1) from exc
    except OcaisError as exc:
        raise fail(exc) from exc
    result = {
        "valid": True,
        **_summary(verified.manifest),
        "trust": verified.trust,
        "sha256": verified.sha256,
    }
    if as_json:
        emit_json(result)
        return
    console.print(
        f"[green]valid[/]: {escape(verified.manifest.ref)} ({verified.manifest.kind}); "
        f"{len(verified.manifest.files)} files match their SHA-256; signed by "
        f"{escape(verified.signer.site)} ({verified.signer.fingerprint[:16]}…, {verified.trust})."
    )


@app.command("inspect")
def inspect_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A package file.")],
    card: Annotated[bool, typer.Option(help="Print the card too.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """The manifest (kind, creator, files, lineage, privacy, evaluation) of a package whose
    signature checks out, and whether this site trusts its signer."""
    cli = state(ctx)
    try:
        seen = inspect_package(cli.services, file)
    except OcaisError as exc:
        raise _refuse(exc) from exc
    manifest = seen.package.manifest
    if wants_json(cli, json_output):
        emit_json(
            {
                "manifest": manifest.model_dump(mode="json"),
                "sha256": seen.package.sha256,
                "trusted": seen.trusted is not None,
                "trust": seen.trusted,
                "trust_problem": seen.trust_problem,
                "card": seen.package.card,
            }
        )
        return
    console.print(f"[bold]{escape(manifest.ref)}[/] — {manifest.kind}, {escape(manifest.license)}")
    console.print(
        f"Created {manifest.created} by {escape(manifest.creator.site)} "
        f"({manifest.creator.software}); signer {manifest.creator.fingerprint}"
    )
    console.print(
        "Trust: "
        + (
            f"[green]{seen.trusted}[/]"
            if seen.trusted
            else f"[yellow]not trusted[/]: {escape(seen.trust_problem or '')}"
        )
    )
    console.print(f"Synthetic: {manifest.synthetic}. Intended use: {escape(manifest.intended_use)}")
    table = Table("file", "bytes", "sha256")
    for entry in manifest.files[:20]:
        table.add_row(escape(entry.path), f"{entry.size:,}", entry.sha256[:16] + "…")
    if len(manifest.files) > 20:
        table.add_row(f"… {len(manifest.files) - 20:,} more", "", "")
    console.print(table)
    for title, section in (
        ("Summary", manifest.summary),
        ("Privacy", manifest.privacy),
        ("Evaluation", manifest.evaluation),
        ("Lineage", manifest.lineage),
    ):
        if section:
            shown = {k: v for k, v in section.items() if k != "diseases"}
            console.print(f"[bold]{title}[/]: {escape(str(shown))[:1500]}")
    if card:
        console.print(seen.package.card, markup=False)


@app.command("publish")
def publish_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A package file (`ocais package build`).")],
    json_output: JsonFlag = False,
) -> None:
    """Verify the package and install it into this site's registry: `ocais serve` offers it to
    other sites, and `--model NAME` uses it here."""
    cli = state(ctx)
    try:
        done = publish_package(cli.services, file)
    except OcaisError as exc:
        raise _refuse(exc) from exc
    _print_installed(done, cli, json_output, "Published")


@app.command("pull")
def pull_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION (default: the latest).")],
    source: Annotated[
        str, typer.Option("--from", help="The other site's service, e.g. http://site-a:8000.")
    ],
    api_key: ApiKey = None,
    json_output: JsonFlag = False,
) -> None:
    """Download a package from another site, verify it against this site's trust and install
    it atomically; refused or interrupted, nothing is installed. Pulling again is a no-op."""
    cli = state(ctx)
    as_json = wants_json(cli, json_output)
    try:
        with progress_bar(as_json) as update:
            done = pull_package(cli.services, ref, source, api_key=api_key, progress=update)
    except OcaisError as exc:
        raise _refuse(exc) from exc
    _print_installed(done, cli, json_output, "Pulled")


def _print_installed(done: Any, cli: Any, json_output: bool, verb: str) -> None:
    package = done.package
    if wants_json(cli, json_output):
        emit_json({**package.as_dict(), "installed": done.installed, "path": str(package.payload)})
        return
    m = package.manifest
    if not done.installed:
        console.print(f"{escape(m.ref)} is already installed (same content): nothing to do.")
        return
    console.print(
        f"{verb} {escape(m.ref)} ({m.kind}) from {escape(m.creator.site)}, signature and "
        f"{len(m.files)} files verified ({package.trust})."
    )
    if m.kind == "model":
        console.print(f"Use it: ocais benchmark DIR -p learned --model {escape(m.name)}")
    elif m.kind == "dataset":
        console.print(f"Use it: ocais learn fit {escape(m.name)} LOCAL_CASES --out MODEL")
    elif m.kind == "adapter":
        console.print(f"Use it: ocais llm serve --adapter {escape(m.name)}")


@app.command("push")
def push_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A package file.")],
    to: Annotated[str, typer.Option("--to", help="The other site's service URL.")],
    api_key: ApiKey = None,
    json_output: JsonFlag = False,
) -> None:
    """Upload a package to another site's registry (with the API key of a researcher there);
    that site verifies it against its own trust."""
    cli = state(ctx)
    try:
        result = push_package(cli.services, file, to, api_key=api_key)
    except OcaisError as exc:
        raise _refuse(exc) from exc
    if wants_json(cli, json_output):
        emit_json(result)
        return
    console.print(
        f"Pushed {escape(str(result.get('name')))}@{escape(str(result.get('version')))} "
        f"to {escape(to)}."
    )


@app.command("list")
def list_command(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    query: Annotated[
        str | None, typer.Option(help="Words in the name, description or site.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """The packages installed in this site's registry."""
    cli = state(ctx)
    try:
        found = list_packages(cli.services, query, kind)
    except OcaisError as exc:
        raise fail(exc) from exc
    if wants_json(cli, json_output):
        emit_json([p.as_dict() for p in found])
        return
    if not found:
        console.print("No package installed: `ocais package publish FILE` or `package pull`.")
        return
    table = Table("package", "kind", "site", "synthetic", "trust", "from", "installed")
    for p in found:
        table.add_row(
            escape(p.manifest.ref),
            p.manifest.kind,
            escape(p.manifest.creator.site),
            str(p.manifest.synthetic),
            p.trust,
            escape(p.origin),
            p.installed_at,
        )
    console.print(table)


@app.command("lineage")
def lineage_command(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION of an installed package.")],
    json_output: JsonFlag = False,
) -> None:
    """The chain behind a package: de-identified sources (hashes only) → synthetic set
    (privacy report) → model → evaluations."""
    cli = state(ctx)
    try:
        chain = package_lineage(cli.services, ref)
    except OcaisError as exc:
        raise fail(exc) from exc
    if wants_json(cli, json_output):
        emit_json(chain)
        return
    console.print(_tree(chain))


def _tree(node: dict[str, Any], tree: Tree | None = None) -> Tree:
    label = (
        f"[bold]{escape(node['ref'])}[/] {node['kind']} · site {escape(node['site'])} · "
        f"content {node['content_sha256'][:12]}…"
    )
    branch = Tree(label) if tree is None else tree.add(label)
    summary = node.get("summary") or {}
    if summary:
        branch.add(
            "summary: "
            + escape(
                ", ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, dict | list))
            )
        )
    if node.get("privacy"):
        branch.add("privacy: " + escape(str(node["privacy"]))[:400])
    if node.get("evaluation"):
        branch.add("evaluation: " + escape(str(node["evaluation"]))[:400])
    for source in node.get("sources") or []:
        if isinstance(source, dict):
            shown = {k: v for k, v in source.items() if v is not None and k != "role"}
            branch.add(
                f"from {escape(str(source.get('role', 'source')))}: " + escape(str(shown))[:300]
            )
    for parent in node.get("parents") or []:
        _tree(parent, branch.add("made from"))
    for child in node.get("derived") or []:
        branch.add(f"used by {escape(child['ref'])} ({child['kind']})")
    return branch
