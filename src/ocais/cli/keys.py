"""``ocais keys`` (this site's signing key) and ``ocais trust`` (the signers it accepts)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import JsonFlag, console, emit_json, fail, state, wants_json
from ocais.errors import OcaisError
from ocais.share.trust import KINDS, parse_kinds
from ocais.workflows.sharing import (
    add_trust,
    create_site_key,
    list_trust,
    remove_trust,
    site_key_info,
)

keys_app = typer.Typer(help="This site's signing key for evidence packages.", no_args_is_help=True)
trust_app = typer.Typer(
    help="The sites (signing keys) whose packages this site accepts.", no_args_is_help=True
)


@keys_app.command("create")
def create_command(
    ctx: typer.Context,
    site: Annotated[
        str | None, typer.Option(help="Name of this site on its packages (default: OCAIS_SITE).")
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Make a new key even though one exists (sites that trust the old one must "
            "trust the new one).",
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Create this site's Ed25519 signing key in the data folder (the private key never leaves
    it; mode 0600). Share the public half: `ocais --json keys show > KEY.json`."""
    cli = state(ctx)
    try:
        info = create_site_key(cli.services, site=site, replace=replace)
    except OcaisError as exc:
        raise fail(exc) from exc
    if wants_json(cli, json_output):
        emit_json(info.as_dict())
        return
    console.print(f"Signing key of site [bold]{escape(info.site)}[/] created.")
    console.print(f"Fingerprint: {info.fingerprint}")
    console.print("Give other sites its public key: ocais --json keys show > KEY.json")


@keys_app.command("show")
def show_command(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """This site's public key and fingerprint (`--json`: the file other sites `trust add`)."""
    cli = state(ctx)
    try:
        info = site_key_info(cli.services)
    except OcaisError as exc:
        raise fail(exc) from exc
    if wants_json(cli, json_output):
        emit_json(info.as_dict())
        return
    console.print(f"Site:        {escape(info.site)}")
    console.print(f"Algorithm:   {info.algorithm}")
    console.print(f"Public key:  {info.public_key}")
    console.print(f"Fingerprint: {info.fingerprint}")


@trust_app.command("add")
def trust_add_command(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Argument(
            help="The other site's `ocais --json keys show` file, or its key fingerprint."
        ),
    ],
    kinds: Annotated[
        str | None,
        typer.Option(help=f"Trust it only for these kinds, comma-separated ({', '.join(KINDS)})."),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Accept packages signed by this key (of the kinds named, or all)."""
    cli = state(ctx)
    try:
        entry = add_trust(cli.services, key, parse_kinds(kinds))
    except OcaisError as exc:
        raise fail(exc) from exc
    if wants_json(cli, json_output):
        emit_json(entry.as_dict())
        return
    which = ", ".join(entry.kinds) if entry.kinds else "every kind"
    console.print(f"Trusted {escape(entry.site or 'key')} {entry.fingerprint[:16]}… for {which}.")


@trust_app.command("list")
def trust_list_command(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """The trusted keys (this site's own key is always trusted)."""
    cli = state(ctx)
    try:
        entries = list_trust(cli.services)
    except OcaisError as exc:
        raise fail(exc) from exc
    if wants_json(cli, json_output):
        emit_json([e.as_dict() for e in entries])
        return
    if not entries:
        console.print("No other site is trusted yet: `ocais trust add KEY.json`.")
        return
    table = Table("site", "fingerprint", "kinds", "added")
    for e in entries:
        table.add_row(
            escape(e.site or "—"),
            e.fingerprint,
            ", ".join(e.kinds) if e.kinds else "all",
            e.added,
        )
    console.print(table)


@trust_app.command("remove")
def trust_remove_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="A fingerprint (8+ first digits) or a site name.")],
    json_output: JsonFlag = False,
) -> None:
    """Stop accepting packages signed by this key (installed packages stay)."""
    cli = state(ctx)
    try:
        gone = remove_trust(cli.services, key)
    except OcaisError as exc:
        raise fail(exc) from exc
    if wants_json(cli, json_output):
        emit_json([e.as_dict() for e in gone])
        return
    for e in gone:
        console.print(f"No longer trusted: {escape(e.site or '—')} {e.fingerprint[:16]}…")
