"""``ocais notes``: write from a clinician's note or a case — referral letters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ocais.cli.context import JsonFlag, console, emit_json, err_console, fail, state
from ocais.errors import InvalidRecordError, OcaisError
from ocais.schemas import Case
from ocais.workflows import Services

app = typer.Typer(help="Clinical notes: referral letters and case summaries.")


@app.command("letter")
def letter(
    ctx: typer.Context,
    case_file: Annotated[
        Path | None, typer.Argument(help="A phenopacket (JSON) to write the letter from.")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="A clinical note to write the letter from.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the Markdown letter to this file.")] = (
        None
    ),
    json_output: JsonFlag = False,
) -> None:
    """A referral letter in Markdown from a note (--text) or a phenopacket: de-identified,
    with the computed differential; written by the LLM when one is configured, from a
    template otherwise."""
    from ocais.workflows.genai import write_letter_for_case, write_letter_for_text

    cli = state(ctx)
    try:
        if (text is None) == (case_file is None):
            raise InvalidRecordError(
                "give a note with --text, or a phenopacket file, not both",
                source="ocais notes letter",
                hint="e.g. ocais notes letter --text 'Boy, 14, tall stature, ectopia lentis'",
            )
        if text is not None:
            result = write_letter_for_text(cli.services, text)
        else:
            assert case_file is not None
            result = write_letter_for_case(cli.services, _read_case(cli.services, case_file))
    except OcaisError as exc:
        raise fail(exc) from exc
    if out is not None:
        out.write_text(result.markdown, encoding="utf-8")
    data = result.as_dict()
    if cli.json_output or json_output:
        emit_json(data)
        return
    if result.written.failed and result.written.failed != "llm_unavailable":
        err_console.print(f"[yellow]the LLM was not used ({result.written.failed})[/]")
    if out is None:
        console.print(result.markdown, markup=False, highlight=False)
    else:
        err_console.print(f"letter written to {out}")


def _read_case(services: Services, path: Path) -> Case:
    from ocais.workflows.cases import read_phenopacket

    try:
        packet = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRecordError(f"cannot read {path}: {exc}", source=str(path)) from exc
    if not isinstance(packet, dict):
        raise InvalidRecordError("not a phenopacket (a JSON object)", source=str(path))
    return read_phenopacket(services, packet)
