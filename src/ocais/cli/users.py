"""``ocais users``: accounts of the web service (add, key, list, disable, enable, revoke-keys)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import CliState, console, emit_json, err_console, fail, state
from ocais.errors import OcaisError
from ocais.serve.accounts import Accounts

app = typer.Typer(help="Users of the web service: roles, API keys, page passwords.")

ROLE_HELP = "clinician (predict, own cases, feedback), researcher (read-only), admin (all)"


def accounts(cli: CliState) -> Accounts:
    return Accounts(cli.services.owners)


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        err_console.print("[red]no password on standard input[/]")
        raise typer.Exit(code=2)
    return password


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name (2-64 letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "clinician",
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read a page password (>= 12 chars) from stdin."),
    ] = False,
) -> None:
    """Add a user. Give them an API key with `ocais users key NAME`."""
    cli = state(ctx)
    password = _read_password() if password_stdin else None
    try:
        user = accounts(cli).add_user(name, role, password=password)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(user.model_dump(mode="json"))
        return
    console.print(f"added {escape(user.name)} ({user.role})")


@app.command("key")
def key(ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Create an API key for a user and print it once (only its hash is stored)."""
    cli = state(ctx)
    try:
        user, new_key = accounts(cli).issue_key(name)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json({"user": user.name, "api_key": new_key})
        return
    err_console.print(f"API key for {escape(user.name)} (shown once, store it now):")
    typer.echo(new_key)


@app.command("list")
def list_users(ctx: typer.Context) -> None:
    """Users, their roles, whether they are active and how many live keys they have."""
    cli = state(ctx)
    try:
        users = accounts(cli).list_users()
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json([u.model_dump(mode="json") for u in users])
        return
    table = Table("name", "role", "active", "keys", "password", "created", title="Users")
    for u in users:
        table.add_row(
            escape(u.name),
            u.role,
            "yes" if u.active else "no",
            str(u.n_keys),
            "yes" if u.has_password else "no",
            f"{u.created_at:%Y-%m-%d}",
        )
    console.print(table)


def _set_active(ctx: typer.Context, name: str, active: bool) -> None:
    cli = state(ctx)
    try:
        user = accounts(cli).set_active(name, active)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json(user.model_dump(mode="json"))
        return
    console.print(f"{escape(user.name)} is {'enabled' if active else 'disabled'}")


@app.command("disable")
def disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user: their keys and sessions stop working (running servers: within
    OCAIS_SERVE_AUTH_CACHE_SECONDS)."""
    _set_active(ctx, name, False)


@app.command("enable")
def enable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Enable a disabled user again."""
    _set_active(ctx, name, True)


@app.command("revoke-keys")
def revoke_keys(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="User name.")]
) -> None:
    """Revoke every API key of a user."""
    cli = state(ctx)
    try:
        n = accounts(cli).revoke_keys(name)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json({"user": name, "revoked": n})
        return
    console.print(f"revoked {n} key(s) of {escape(name)}")
