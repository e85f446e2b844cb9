"""Fit a learned predictor on cases (synthetic or real) and save it to a folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocais.errors import ConfigError
from ocais.synth.phenopackets import check_out_dir
from ocais.workflows.services import Services
from ocais.workflows.synthesis import Progress, read_labelled


@dataclass
class Fitted:
    model: Any  # ocais.learn.model.LearnedModel
    path: Path
    n_skipped: int


def training_source(services: Services, ref: str | Path) -> tuple[Path, dict[str, Any]]:
    """A folder or file of cases, or an installed dataset package by ``NAME[@VERSION]``; with
    what a model records about it (path, phenopackets digest, package)."""
    from ocais.share.kinds import phenopackets_digest
    from ocais.workflows.sharing import package_reference, resolve_artifact

    path = Path(ref)
    package = None
    if not path.exists():
        path, package = resolve_artifact(services, ref, "dataset")
    record: dict[str, Any] = {"path": str(path)}
    if path.is_dir():
        record["phenopackets_sha256"] = phenopackets_digest(path)
    if package is not None:
        record["package"] = package_reference(package)
    return path, record


def fit_model(
    services: Services,
    cases_dirs: Path | str | Sequence[Path | str],
    out: Path,
    options: Any,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Fitted:
    """Fit ``ocais.learn`` on the labelled cases of one or more sources (folders, files, or
    installed dataset packages: a pulled synthetic set combined with local ones); write it to
    ``out``."""
    from ocais.learn.model import fit

    check_out_dir(out, overwrite=overwrite)
    refs = [cases_dirs] if isinstance(cases_dirs, str | Path) else list(cases_dirs)
    if not refs:
        raise ConfigError("no cases to fit on", hint="name at least one folder or package")
    cases: list[Any] = []
    n_skipped = 0
    sources = []
    for ref in refs:
        path, record = training_source(services, ref)
        read, skipped = read_labelled(services, path, "cases", progress)
        record["n_cases"] = len(read)
        cases += read
        n_skipped += skipped
        sources.append(record)
    source = ", ".join(str(r["path"]) for r in sources)
    model = fit(cases, services.knowledge, options, source=source, progress=progress)
    model.training["sources"] = sources
    try:
        path = model.save(out)
    except OSError as exc:
        raise ConfigError(f"cannot write the model to {out}: {exc}") from exc
    return Fitted(model, path, n_skipped)


def run_loop(
    services: Services,
    config_path: Path,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Any:
    """One turn of the learning loop described by a TOML config (``ocais.loop``): split,
    synthesize, gate, release, fit, validate; returns its ``LoopResult``."""
    from ocais.loop import load_config
    from ocais.loop import run_loop as run

    config = load_config(config_path)
    return run(
        config,
        services.knowledge,
        progress,
        overwrite=overwrite,
        workers=services.settings.workers,
    )
