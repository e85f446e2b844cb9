"""``ocais phenotypes``: HPO terms from free text, with negation, family and uncertainty."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import console, emit_json, err_console, fail, state
from ocais.errors import OcaisError

app = typer.Typer(help="Phenotypes from clinical free text (HPO).", no_args_is_help=True)

_YES = "[bold]yes[/]"


def _read_text(source: str, max_chars: int) -> str:
    """The text itself, ``-`` for standard input, or ``@path`` for a UTF-8 file."""
    if source == "-":
        return sys.stdin.read(max_chars + 1)
    if source.startswith("@"):
        path = Path(source[1:]).expanduser()
        try:
            with path.open(encoding="utf-8") as handle:
                return handle.read(max_chars + 1)  # one more: over the limit is an error
        except (OSError, UnicodeDecodeError) as exc:
            err_console.print(
                f"[bold red]error[/]: cannot read {escape(str(path))}: {escape(str(exc))} "
                "(pass a UTF-8 text file as @path, '-' for standard input, or the text itself)"
            )
            raise typer.Exit(code=2) from exc
    return source


@app.command("extract")
def extract(
    ctx: typer.Context,
    text: Annotated[
        str, typer.Argument(help="The text; '-' to read standard input; '@file.txt' for a file.")
    ],
    max_chars: Annotated[
        int, typer.Option(min=1, help="Longest text accepted, in characters.")
    ] = 100_000,
) -> None:
    """Find HPO terms in a clinical text: span, and whether negated, familial or uncertain."""
    from ocais.ingest.text import extract_phenotypes

    cli = state(ctx)
    content = _read_text(text, max_chars)
    kb = cli.knowledge
    try:
        mentions = extract_phenotypes(content, kb, max_chars=max_chars)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json([m.model_dump() for m in mentions])
        return
    if not mentions:
        console.print(f"No HPO term found (HPO {kb.version}).")
        return
    table = Table(
        "HPO id",
        "label",
        "excluded",
        "family",
        "uncertain",
        "span",
        "matched text",
        title=f"Phenotypes in the text (HPO {kb.version})",
    )
    for m in mentions:
        table.add_row(
            m.id,
            escape(m.label),
            _YES if m.excluded else "",
            _YES if m.family else "",
            _YES if m.uncertain else "",
            f"{m.start}-{m.end}",
            escape(m.text),
        )
    console.print(table)
