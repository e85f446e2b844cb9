"""What every command needs: the installation's services (``ocais.workflows.build_services``),
built lazily from settings, and the console helpers every command shares."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ocais.config import Settings
from ocais.errors import OcaisError
from ocais.knowledge import KnowledgeBase
from ocais.workflows import Services, build_services
from ocais.workflows.types import Repository

console = Console()
err_console = Console(stderr=True)

ProgressUpdate = Callable[[str, int, int | None], None]
# `--json` after a subcommand, for commands whose output scripts read (as `ocais --json …`)
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print data as JSON (same as `ocais --json …`).")
]


def _notice(message: str) -> None:
    err_console.print(f"[yellow]{escape(message)}[/]")


@dataclass
class CliState:
    settings: Settings
    json_output: bool = False
    _services: Services | None = field(default=None, repr=False)

    @property
    def services(self) -> Services:
        """The use-case services; repairs they make are told on stderr."""
        if self._services is None:
            self._services = build_services(self.settings, notify=_notice)
        return self._services

    @property
    def knowledge(self) -> KnowledgeBase:
        services = self.services
        try:
            if services.knowledge_loaded:
                return services.knowledge
            with err_console.status("Loading the HPO knowledge base…"):
                return services.knowledge
        except OcaisError as exc:
            raise fail(exc) from exc

    @property
    def repo(self) -> Repository:
        try:
            return self.services.repo
        except OcaisError as exc:
            raise fail(exc) from exc

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        raise RuntimeError("the ocais root command did not set up its state")
    return obj


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def fail(error: OcaisError) -> typer.Exit:
    """Print an error with its fix and return the exit to raise (code 2 for bad input)."""
    # escape: messages quote user data and record labels in brackets ("file [line 3]")
    err_console.print(f"[bold red]error[/] ({error.code}): {escape(str(error))}")
    return typer.Exit(code=2)


def resolve_path(path: Path) -> Path:
    return path.expanduser()


def wants_json(cli: CliState, local_flag: bool) -> bool:
    """JSON output asked for before (``ocais --json``) or after the subcommand (``--json``)."""
    return cli.json_output or local_flag


@contextmanager
def progress_bar(disabled: bool, describe: Callable[[str], str] = str) -> Iterator[ProgressUpdate]:
    """A rich progress display on stderr and the ``(task, done, total)`` callback that feeds it,
    one bar per task name (``describe`` turns a name into its label)."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=disabled,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(task: str, done: int, total: int | None) -> None:
        if task not in tasks:
            tasks[task] = progress.add_task(escape(describe(task)), total=total)
        progress.update(tasks[task], completed=done, total=total)

    with progress:
        yield update
