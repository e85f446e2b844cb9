"""``ocais serve`` (the web service) and ``ocais report service`` (accuracy from feedback).

First start: on a store without users, ``ocais serve`` creates the user ``admin`` and prints its
API key and page password once, on this terminal (never to a log). It does so by itself only
when listening on a loopback address; to start a server reachable from the network on a fresh
store, create an admin first (``ocais users add NAME --role admin``) or pass ``--init-admin``.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ocais.cli.context import CliState, console, emit_json, err_console, fail, state
from ocais.errors import OcaisError
from ocais.plugins import choose
from ocais.serve.accounts import Accounts
from ocais.serve.security import is_loopback
from ocais.serve.settings import ServeSettings, load_serve_settings
from ocais.workflows.types import available_predictors

report_app = typer.Typer(help="Reports from the stored data.")


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["ocais"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _bootstrap(cli: CliState, host: str, init_admin: bool) -> None:
    accounts = Accounts(cli.services.owners)
    if accounts.store.count_users() > 0:
        return
    if not (is_loopback(host) or init_admin):
        err_console.print(
            "[red]this store has no users[/] and the server would listen on "
            f"{escape(host)}: create an admin first (ocais users add NAME --role admin; "
            "ocais users key NAME), or pass --init-admin to create one now"
        )
        raise typer.Exit(code=2)
    credentials = accounts.bootstrap_admin()
    if credentials is None:  # another process created users meanwhile
        return
    console.print(
        "[bold]First start: created the admin user "
        f"'{credentials.name}'.[/] Store these now — they are shown only once and kept only "
        "as hashes:"
    )
    console.print(f"  API key:  {credentials.api_key}", soft_wrap=True, highlight=False)
    console.print(f"  password: {credentials.password}", soft_wrap=True, highlight=False)
    console.print("Add users with: ocais users add NAME --role clinician; ocais users key NAME")


def _export_settings(cli: CliState) -> None:
    """Worker processes build their own settings from the environment: pass ours on."""
    values = {
        "OCAIS_DATA_DIR": str(cli.settings.data_dir),
        "OCAIS_STORE_URL": cli.settings.resolved_store_url,
        "OCAIS_HPO_DIR": str(cli.settings.hpo_dir) if cli.settings.hpo_dir else None,
    }
    for name, value in values.items():
        if value is not None:
            os.environ[name] = value


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: OCAIS_SERVE_HOST or 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="TCP port (default: OCAIS_SERVE_PORT or 8000)."),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=32, help="Worker processes (one per core is plenty).")
    ] = 1,
    init_admin: Annotated[
        bool,
        typer.Option(
            "--init-admin", help="Create the first admin on a fresh store even off loopback."
        ),
    ] = False,
    predictor: Annotated[
        str | None,
        typer.Option(help="Predictor to serve (default: OCAIS_SERVE_PREDICTOR or phenotype)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Fitted model (with --predictor learned): a folder (`ocais learn fit`) or "
            "NAME[@VERSION] of a model package in this site's registry."
        ),
    ] = None,
) -> None:
    """Run the web service: REST API v1 (docs at /docs) and the page, on the embedded store."""
    import uvicorn

    from ocais.serve.app import create_app

    cli = state(ctx)
    try:
        overrides: dict[str, Any] = {}
        if predictor is not None:
            overrides["predictor"] = predictor
        if model is not None:
            overrides["model_dir"] = cli.services.model_path(model).resolve()
            overrides.setdefault("predictor", "learned")
        if host is not None:
            overrides["host"] = host
        if port is not None:
            overrides["port"] = port
        serve_settings: ServeSettings = (
            load_serve_settings(**overrides) if overrides else cli.settings.serve
        )
        kb = cli.knowledge  # compile the knowledge cache once, before workers start
        # a bad predictor name or model fails now, not in every worker; a model is loaded here
        # only to check it (each worker loads its own: the parent keeps no copy in memory)
        choose("predictor", serve_settings.predictor, available_predictors())
        loaded = None
        if serve_settings.model_dir is not None:
            # OCAIS_SERVE_MODEL_DIR may name a package too: resolved once, here, for every worker
            serve_settings = serve_settings.model_copy(
                update={"model_dir": cli.services.model_path(serve_settings.model_dir).resolve()}
            )
            loaded = cli.services.predictor(
                serve_settings.predictor, model_dir=serve_settings.model_dir
            )
        _bootstrap(cli, serve_settings.host, init_admin)
    except OcaisError as exc:
        raise fail(exc) from exc
    host, port = serve_settings.host, serve_settings.port
    shown = f"[{host}]" if ":" in host else host
    console.print(f"OCAIS page: http://{shown}:{port}/  ·  API docs: http://{shown}:{port}/docs")
    if not is_loopback(host):
        err_console.print(
            "[yellow]listening beyond this machine: put it behind HTTPS (a reverse proxy) "
            "and set OCAIS_SERVE_COOKIE_SECURE=true[/]"
        )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,  # uvicorn's access log prints query strings; ours does not
        "log_config": _log_config(),
        "server_header": False,
    }
    if workers == 1:
        app = create_app(cli.settings, serve=serve_settings, knowledge=kb, predictor=loaded)
        cli.close()  # the app opens its own store connection in its lifespan
        uvicorn.run(app, **options)
        return
    loaded = None  # checked; each worker loads its own
    _export_settings(cli)
    os.environ["OCAIS_SERVE_PREDICTOR"] = serve_settings.predictor
    if serve_settings.model_dir is not None:
        os.environ["OCAIS_SERVE_MODEL_DIR"] = str(serve_settings.model_dir)
    cli.close()
    uvicorn.run("ocais.serve.app:app_from_env", factory=True, workers=workers, **options)


@report_app.command("service")
def report_service(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Directory for the HTML report and JSON metrics.")] = (
        Path("service-report")
    ),
) -> None:
    """Accuracy of served predictions on confirmed diagnoses (feedback): HTML with plots + JSON."""
    from ocais.serve.report import build_report, write_report

    cli = state(ctx)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        report = build_report(cli.services.owners, cli.knowledge)
        files = write_report(report, out.expanduser())
    except OcaisError as exc:
        raise fail(exc) from exc
    if cli.json_output:
        emit_json({"files": files, "report": report.model_dump(mode="json")})
        return
    for name, result in report.predictors.items():
        m = result.metrics
        console.print(
            f"{escape(name)}: {int(m['n_cases'])} confirmed cases · top-1 {m['top1']:.1%} · "
            f"top-10 {m['top10']:.1%}"
        )
    if not report.predictors:
        console.print("no confirmed diagnoses yet")
    console.print(f"report: {escape(files['html'])}")
