"""One turn of the learning loop: real cases → synthetic set → release gate → learned model →
before/after validation on real cases the generator never saw.

Stages (each timed, each reported to ``progress(stage, done, total)``):

1. ``read``: the source phenopackets with a confirmed diagnosis (:func:`read_cases`).
2. ``split``: train and holdout cases (:func:`~ocais.loop.split.split_cases`) → ``split.json``.
3. ``synthesize``: synthetic patients from the training cases only → ``synthetic/``.
4. ``report``: privacy and fidelity against the training (members) and holdout (non-members)
   cases → ``synth-report.json``/``.html``; ``gate``: the release thresholds. A failed gate
   writes ``loop.json`` (status ``refused``) and raises ``ReleaseRefusedError``.
5. ``release``: the gated set → ``released/`` (files, report, dataset card).
6. ``fit``: the learned predictor on the synthetic cases only → ``model/``.
7. ``validate``: the knowledge-only ranker (before) against the learned one (after) on the
   holdout cases → ``validation.json``/``.html``; then ``loop.json`` with everything.

Same config, seed, source and knowledge release → same split, synthetic cases and figures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ocais import __version__
from ocais.errors import ConfigError, ReleaseRefusedError
from ocais.evaluate.benchmark import read_cases
from ocais.evaluate.validation import ValidationResult, validate, validation_json
from ocais.evaluate.validation import write_validation_html as write_validation_page
from ocais.knowledge import KnowledgeBase
from ocais.learn.model import LearnedPredictor, fit
from ocais.learn.profiles import cases_sha256
from ocais.loop.config import LoopConfig
from ocais.loop.split import split_cases
from ocais.predict.phenotype import PhenotypeRanker
from ocais.schemas import Case
from ocais.synth.generate import from_cases
from ocais.synth.manifest import synthetic_manifest
from ocais.synth.phenopackets import check_out_dir, write_phenopackets
from ocais.synth.privacy import SynthReport, build_report, report_json
from ocais.synth.release import GateResult, check_gate, files_digest, phenopacket_files, release
from ocais.synth.report_html import write_report_html

Progress = Callable[[str, int, int | None], None]

OUTPUTS = {
    "split": "split.json",
    "synthetic": "synthetic",
    "report_json": "synth-report.json",
    "report_html": "synth-report.html",
    "released": "released",
    "model": "model",
    "validation_json": "validation.json",
    "validation_html": "validation.html",
    "loop": "loop.json",
}
LOOP_FORMAT = "ocais-loop/1"


class LoopFigures(BaseModel):
    """The figures a reader wants first (``None``: the loop stopped before measuring it)."""

    model_config = ConfigDict(extra="forbid")

    n_cases: int
    n_train: int
    n_holdout: int
    n_synthetic: int
    mia_auc: float | None
    exact_copies: int
    near_copy_rate: float
    fidelity_median_correlation: float | None
    gate_passed: bool
    n_released: int | None = None
    top1_before: float | None = None
    top1_after: float | None = None
    top10_before: float | None = None
    top10_after: float | None = None
    mrr_before: float | None = None
    mrr_after: float | None = None
    top1_difference_ci: tuple[float, float] | None = None


class LoopResult(BaseModel):
    """What one run did: status, figures, gate, timings, files and provenance (``loop.json``)."""

    model_config = ConfigDict(extra="forbid")

    format: str = LOOP_FORMAT
    status: Literal["completed", "refused"]
    config: dict[str, Any]
    seed: int
    figures: LoopFigures
    gate: GateResult
    timings: dict[str, float] = Field(description="Seconds per stage")
    files: dict[str, str]
    provenance: dict[str, Any]
    validation: ValidationResult | None = Field(None, exclude=True)
    report: SynthReport | None = Field(None, exclude=True)


class _Clock:
    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.report(name, 0, 1)
        started = time.perf_counter()
        yield
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - started, 3)
        self.report(name, 1, 1)

    def report(self, name: str, done: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress(name, done, total)


def run_loop(
    config: LoopConfig,
    kb: KnowledgeBase,
    progress: Progress | None = None,
    *,
    overwrite: bool = False,
    workers: int = 1,
) -> LoopResult:
    """Read ``config.source`` and run :func:`run_loop_on_cases` on its diagnosed cases."""
    started = time.perf_counter()
    cases, skipped = read_cases(config.source, kb, workers=workers, progress=progress)
    if not cases:
        raise ConfigError(
            f"no case with a confirmed diagnosis in {config.source}",
            hint=f"{len(skipped)} records were left out; check the source path",
        )
    read_seconds = round(time.perf_counter() - started, 3)
    source = {"path": str(config.source), "n_skipped": len(skipped)}
    if config.source.is_file():
        source["sha256"] = _file_sha256(config.source)
    return run_loop_on_cases(
        cases,
        config,
        kb,
        progress=progress,
        overwrite=overwrite,
        source=source,
        timings={"read": read_seconds},
    )


def run_loop_on_cases(
    cases: Sequence[Case],
    config: LoopConfig,
    kb: KnowledgeBase,
    *,
    progress: Progress | None = None,
    overwrite: bool = False,
    source: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
) -> LoopResult:
    """The loop on cases already read (module docstring). ``source`` describes where they came
    from (recorded in the provenance). ``out`` must be new or empty unless ``overwrite``, which
    replaces the loop's own outputs there."""
    out = config.out
    _prepare(out, overwrite)
    clock = _Clock(progress)
    clock.timings.update(timings or {})
    files = {key: str(out / name) for key, name in OUTPUTS.items()}
    with clock.stage("split"):
        train, holdout = split_cases(
            cases,
            holdout_fraction=config.split.holdout_fraction,
            by=config.split.by,
            seed=config.seed,
        )
        _write_split(out / OUTPUTS["split"], config, train, holdout)
    if not train or not holdout:
        raise ConfigError(
            f"the split left {len(train)} training and {len(holdout)} holdout cases",
            hint="use more cases or a holdout_fraction nearer 0.5",
        )
    synth_options = config.synth_options()
    with clock.stage("synthesize"):
        synthetic = from_cases(
            train, kb, synth_options, source=str(config.source), progress=progress
        )
        if not synthetic:
            raise ConfigError(
                "the generator produced no synthetic case",
                hint="lower synth.min_distance or min_cases, or use more training cases",
            )
        synth_dir = out / OUTPUTS["synthetic"]
        manifest = synthetic_manifest(
            synthetic,
            kb,
            synth_options,
            generator="from-cases",
            source={
                "path": str(config.source),
                "cases_sha256": synthetic[0].provenance.parameters.get("source_sha256"),
                "n_cases": len(train),
                "split": "train",
            },
            extra={"loop": {"seed": config.seed, "split": config.split.model_dump(mode="json")}},
        )
        write_phenopackets(synthetic, synth_dir, manifest)
    with clock.stage("report"):
        report = build_report(
            synthetic,
            train,
            holdout,
            kb,
            sources={
                "source": str(config.source),
                "synthetic": str(synth_dir),
                "synthetic_sha256": files_digest(synth_dir, phenopacket_files(synth_dir)),
                "split": files["split"],
            },
            utility=False,
        )
        (out / OUTPUTS["report_json"]).write_text(report_json(report), encoding="utf-8")
        write_report_html(report, out / OUTPUTS["report_html"])
        gate = check_gate(report, config.gate)
    figures = LoopFigures(
        n_cases=len(cases),
        n_train=len(train),
        n_holdout=len(holdout),
        n_synthetic=len(synthetic),
        mia_auc=report.privacy.mia_auc,
        exact_copies=report.privacy.exact_copies,
        near_copy_rate=report.privacy.near_copy_rate,
        fidelity_median_correlation=report.fidelity.median_correlation,
        gate_passed=gate.passed,
    )
    provenance = _provenance(kb, cases, synthetic[0], source)

    def result(
        status: Literal["completed", "refused"], validation: ValidationResult | None = None
    ) -> LoopResult:
        return LoopResult(
            status=status,
            config=config.model_dump(mode="json"),
            seed=config.seed,
            figures=figures,
            gate=gate,
            timings=dict(clock.timings),
            files={k: v for k, v in files.items() if Path(v).exists() or k == "loop"},
            provenance=provenance,
            report=report,
            validation=validation,
        )

    if not gate.passed:
        refused = result("refused")
        _write_loop(out / OUTPUTS["loop"], refused)
        raise ReleaseRefusedError(
            "the synthetic set failed its release gate: " + "; ".join(gate.failures),
            failures=gate.failures,
            hint=f"see {files['report_html']}; strengthen [synth] (e.g. min_distance, epsilon) "
            "or, if justified, relax [gate], and run the loop again",
        )
    with clock.stage("release"):
        released = release(synth_dir, report, config.gate, out / OUTPUTS["released"])
    learn_options = config.learn_options()
    with clock.stage("fit"):
        model = fit(synthetic, kb, learn_options, source=str(synth_dir), progress=progress)
        model.save(out / OUTPUTS["model"])
    with clock.stage("validate"):
        validation = validate(
            PhenotypeRanker(kb, namespaces=learn_options.namespaces),
            LearnedPredictor(kb, model=model),
            holdout,
            diseases=config.validation.diseases,
            ks=config.validation.ks,
            binary_k=config.validation.binary_k,
            n_diseases=config.validation.n_diseases,
            n_resamples=config.validation.n_resamples,
            seed=config.seed,
            names=("knowledge only", "learned on synthetic"),
            progress=progress,
        )
        (out / OUTPUTS["validation_json"]).write_text(validation_json(validation), "utf-8")
        write_validation_page(validation, out / OUTPUTS["validation_html"])
    interval = validation.intervals.get("top1")
    figures = figures.model_copy(
        update={
            "n_released": len(released.files),
            "top1_before": validation.curve_before[0],
            "top1_after": validation.curve_after[0],
            "top10_before": validation.curve_before[9],
            "top10_after": validation.curve_after[9],
            "mrr_before": validation.before["mrr"],
            "mrr_after": validation.after["mrr"],
            "top1_difference_ci": None if interval is None else (interval.lower, interval.upper),
        }
    )
    provenance["model"] = {
        "dir": files["model"],
        "training": model.training,
        "options": learn_options.model_dump(mode="json"),
    }
    completed = result("completed", validation)
    _write_loop(out / OUTPUTS["loop"], completed)
    return completed


# --- helpers ------------------------------------------------------------------------------------
def _prepare(out: Path, overwrite: bool) -> None:
    hint = "choose a new `out` in the config, or pass --overwrite to replace the loop's outputs"
    check_out_dir(out, overwrite=overwrite, hint=hint)
    if out.exists():  # overwrite: only the loop's own outputs go
        for name in OUTPUTS.values():
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _write_split(path: Path, config: LoopConfig, train: list[Case], holdout: list[Case]) -> None:
    data = {
        "seed": config.seed,
        "holdout_fraction": config.split.holdout_fraction,
        "by": config.split.by,
        "n_train": len(train),
        "n_holdout": len(holdout),
        "train": [c.external_id or c.id for c in train],
        "holdout": [c.external_id or c.id for c in holdout],
    }
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def _provenance(
    kb: KnowledgeBase, cases: Sequence[Case], first: Case, source: dict[str, Any] | None
) -> dict[str, Any]:
    params = first.provenance.parameters
    return {
        "source": dict(source or {}),
        "cases_sha256": cases_sha256(sorted(cases, key=lambda c: c.id)),
        "train_sha256": params.get("source_sha256"),
        "synthetic_dataset_id": params.get("dataset_id"),
        "knowledge": dict(kb.release),
        "software": f"ocais {__version__}",
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
    }


def _write_loop(path: Path, result: LoopResult) -> None:
    path.write_text(result.model_dump_json(indent=1), encoding="utf-8")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
