"""``ocais phenotypes``: HPO terms from free text, with negation, family and uncertainty."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

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
    language: Annotated[
        str | None,
        typer.Option(
            help="Language of the note (en, de, es, fr, it, pt, ja, zh); default: detect."
        ),
    ] = None,
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Also ask the configured LLM (OCAIS_LLM_URL) what the unmapped spans mean; "
            "its proposals are listed as llm_suggestions, never added.",
        ),
    ] = False,
) -> None:
    """Find HPO terms in a clinical text: span, and whether negated, familial or uncertain.

    Notes in German, Spanish, French, Italian, Portuguese, Japanese and Chinese are read with
    HPO's translations (the language is detected). Clinical-looking words that match no term are
    listed as unmapped, with "did you mean" suggestions.
    """
    from ocais.ingest.text import extract_text

    cli = state(ctx)
    content = _read_text(text, max_chars)
    kb = cli.knowledge
    try:
        extraction = extract_text(content, kb, max_chars=max_chars, language=language)
    except OcaisError as exc:
        raise fail(exc) from exc
    except ValueError as exc:  # an unknown --language
        raise typer.BadParameter(str(exc), param_hint="--language") from exc
    proposals: list[Any] = []
    failed = None
    if llm and extraction.unmapped:
        from ocais.workflows.genai import llm_term_suggestions

        proposals, failed = llm_term_suggestions(
            cli.services, [u.text for u in extraction.unmapped]
        )
    if cli.json_output:
        data = extraction.model_dump()
        if llm:
            data["llm_suggestions"] = [vars(p) for p in proposals]
            data["llm_failed"] = failed
        emit_json(data)
        return
    if failed:
        err_console.print(f"[yellow]the LLM was not asked or failed ({failed})[/]")
    for p in proposals:
        console.print(
            f"LLM: {escape(p.span)!r} may mean {p.id} {escape(p.label)} "
            f"(read as {escape(p.said)!r})"
        )
    mentions = extraction.mentions
    if not mentions:
        console.print(f"No HPO term found (HPO {kb.version}, language {extraction.language}).")
    else:
        table = Table(
            "HPO id",
            "label",
            "excluded",
            "family",
            "uncertain",
            "span",
            "matched text",
            title=f"Phenotypes in the text (HPO {kb.version}, language {extraction.language})",
        )
        for m in mentions:
            written = escape(m.text) + ("" if m.confidence >= 1 else f" (typo? {m.confidence:.1f})")
            table.add_row(
                m.id,
                escape(m.label),
                _YES if m.excluded else "",
                _YES if m.family else "",
                _YES if m.uncertain else "",
                f"{m.start}-{m.end}",
                written,
            )
        console.print(table)
    if extraction.unmapped:
        console.print("[bold]Unmapped[/] (no HPO term recognized):")
        for span in extraction.unmapped:
            guesses = ", ".join(f"{escape(s.label)} ({s.id})" for s in span.suggestions)
            hint = f" — did you mean: {guesses}?" if guesses else ""
            console.print(f"  {escape(span.text)!r} at {span.start}-{span.end}{hint}")
