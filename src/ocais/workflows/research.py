"""Use case of embedded clinical research: run a comparative-effectiveness study on the store's
records and write its result (``result.json``) and report (``report.html``). Shells (the CLI, the
service's study page) call these; the API allows researchers and admins only."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocais import __version__
from ocais.errors import ConfigError
from ocais.research.study import (
    EXAMPLE,
    EXAMPLE_YAML,
    Study,
    cohort_frame,
    extract,
    load_study,
    parse_study,
)
from ocais.workflows.services import Services

__all__ = ["EXAMPLE", "EXAMPLE_YAML", "StudyRun", "parse_study", "run_study", "run_study_file"]

RESULT_FILE = "result.json"
REPORT_FILE = "report.html"
Progress = Callable[[str, int, int | None], None]


@dataclass
class StudyRun:
    study: Study
    result: dict[str, Any]
    out: Path | None
    files: dict[str, str]


def run_study_file(
    services: Services,
    path: Path,
    out: Path | None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> StudyRun:
    return run_study(services, load_study(path), out, overwrite=overwrite, progress=progress)


def run_study(
    services: Services,
    study: Study,
    out: Path | None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> StudyRun:
    """Extract the cohort, adjust, estimate, check the diagnostics; the estimate is withheld
    (``null``) when a diagnostic fails. Writes ``result.json`` and ``report.html`` into ``out``."""
    if out is not None and out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out} exists and is not empty", hint="pass --overwrite or a new --out")
    total = services.repo.stats().cases

    def batches() -> Any:
        seen = 0
        for batch in services.repo.iter_cases():
            seen += len(batch)
            if progress is not None:
                progress("cases", seen, total)
            yield batch

    extracted = extract(study, batches())
    arms = {"target": sum(s.treatment for s in extracted.subjects)}
    arms["comparator"] = len(extracted.subjects) - arms["target"]
    if min(arms.values()) == 0:
        result: dict[str, Any] = {
            "estimate": None,
            "naive": None,
            "diagnostics": {
                "passed": False,
                "reasons": [
                    f"the {arm} cohort is empty: nobody meets its criteria"
                    for arm, n in arms.items()
                    if n == 0
                ],
            },
        }
        analysis = None
    else:
        from ocais.research import engine

        frame, controls = cohort_frame(extracted)
        if progress is not None:
            progress("analysis", 0, 1)
        analysis = engine.run_analysis(
            frame,
            method=study.method,
            covariates=extracted.covariates,
            negative_controls=controls or None,
            seed=study.seed,
        )
        result = analysis.to_json(arrays=False)
        if progress is not None:
            progress("analysis", 1, 1)
    result = {
        "study": study.name,
        "method": study.method,
        **result,
        "attrition": extracted.attrition,
        "cohort": {**arms, "covariates": len(extracted.covariates)},
        "provenance": {
            "software": f"ocais {__version__}",
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "store": "the site's store (cases with dated findings)",
            "definition": study.model_dump(mode="json"),
        },
    }
    files: dict[str, str] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / RESULT_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")
        files["result"] = str(out / RESULT_FILE)
        if analysis is not None:
            from ocais.research.report import render_report

            report = render_report(
                analysis, title=study.name, attrition=extracted.attrition, out_dir=out
            )
            files["report"] = str(report)
    return StudyRun(study, result, out, files)
