"""Fine-tune an open LLM on synthetic patients and check it before/after on real held-out
cases (``ocais finetune run`` / ``evaluate``). The steps are :mod:`ocais.finetune.run`'s;
this module reads the cases, loads the models and writes the files.

Needs the ``train`` extra (torch, transformers, peft, trl, datasets); the service never imports
this module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocais.errors import ConfigError
from ocais.finetune import evaluate as finetune_eval
from ocais.finetune import run as steps
from ocais.finetune.cards import dataset_card
from ocais.finetune.config import FinetuneConfig, load_config
from ocais.finetune.examples import (
    PROMPT_VERSION,
    RenderOptions,
    build_examples,
    disease_names,
    to_datasets,
)
from ocais.finetune.train import train_adapter
from ocais.llm.adapters import base_model_path, recorded_base
from ocais.llm.grounding import grounder_for
from ocais.schemas import Case
from ocais.synth.phenopackets import read_manifest
from ocais.workflows.services import Services
from ocais.workflows.synthesis import Progress, read_labelled


def run_finetune(
    services: Services,
    config_path: Path,
    *,
    out: Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """One run (:mod:`ocais.finetune.run`); returns the adapter's manifest, with the
    evaluation under ``evaluation`` when one was made."""
    config = load_config(config_path)
    target = out or config.out
    if target is None:
        raise ConfigError("no output directory", hint="pass --out DIR or set out in the config")
    target = target.expanduser().resolve()
    steps.prepare_out(target, resume=resume, overwrite=overwrite)
    kb = services.knowledge
    timings: dict[str, float] = {}
    with steps.stage(timings, "base model", progress):
        base = base_model_path(config.base.model)
    with steps.stage(timings, "patients", progress):
        patients = _patients(services, config, target, progress)
    names = disease_names(kb, patients.diseases)
    render = RenderOptions(config.data.max_findings, config.data.max_excluded)
    with steps.stage(timings, "examples", progress):
        examples = build_examples(
            patients.synthetic,
            kb,
            names,
            binary_fraction=config.data.binary_fraction,
            eval_fraction=config.data.eval_fraction,
            render=render,
            seed=config.seed,
        )
        card = dataset_card(
            patients.data,
            examples.counts,
            names,
            len(examples.train),
            len(examples.heldout),
            PROMPT_VERSION,
            config.base.chat_template,
        )
        digests = steps.write_examples(examples, target / steps.OUTPUTS["data"], card)
    with steps.stage(timings, "train", progress):
        training = train_adapter(
            config,
            base,
            to_datasets(examples),
            target,
            resume=resume,
            progress=progress,
        )
    metrics = training.metrics()
    (target / steps.OUTPUTS["metrics"]).write_text(json.dumps(metrics, indent=1), "utf-8")
    manifest = steps.adapter_manifest(config, base, patients, examples, digests, metrics, timings)
    _write_manifest(target, manifest)
    steps.write_cards(target, manifest, None)
    manifest["adapter_dir"] = str(target)
    if config.eval.skip:
        return manifest
    cases = _evaluation_cases(services, config, patients, progress)
    if not cases:
        return manifest
    with steps.stage(timings, "evaluate", progress):
        evaluation = _evaluate(
            services,
            target,
            manifest,
            cases,
            base=base,
            max_per_disease=config.eval.max_per_disease,
            out=target / steps.OUTPUTS["evaluation"],
            progress=progress,
        )
    manifest["timings"] = timings
    manifest["evaluation"] = _headline(evaluation)
    _write_manifest(target, manifest)
    steps.write_cards(target, manifest, evaluation)
    return manifest | {"evaluation": evaluation}


def evaluate_finetuned(
    services: Services,
    adapter_dir: Path,
    cases_dir: Path,
    *,
    base: Path | None = None,
    max_per_disease: int | None = None,
    out: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Before/after on the labelled cases under ``cases_dir`` whose diagnosis is among the
    adapter's diseases (at most ``max_per_disease`` each; default: the cap its run used);
    cases used to make its training data are left out (counted).
    Writes ``evaluation.json``, ``evaluation.html`` and ``answers.jsonl`` into ``out``
    (default ``ADAPTER_DIR/evaluation``)."""
    adapter_dir = adapter_dir.expanduser().resolve()
    manifest = steps.read_adapter_manifest(adapter_dir)
    base_path = base or recorded_base(manifest["base_model"])
    if steps.model_digest(base_path) != manifest["base_model"]["sha256"]:
        raise ConfigError(
            f"{base_path} is not the base model the adapter was trained on (SHA-256 differs)",
            hint="pass --base PATH to the model recorded in ocais-adapter.json",
        )
    if max_per_disease is None:  # the run's own cap (its [eval] max_per_disease)
        max_per_disease = (manifest["config"].get("eval") or {}).get("max_per_disease")
    cases, _skipped = read_labelled(services, cases_dir, "cases", progress)
    return _evaluate(
        services,
        adapter_dir,
        manifest,
        cases,
        base=base_path,
        max_per_disease=max_per_disease,
        out=out or adapter_dir / steps.OUTPUTS["evaluation"],
        progress=progress,
    )


# --- helpers ------------------------------------------------------------------------------------
def _patients(
    services: Services, config: FinetuneConfig, out: Path, progress: Progress | None
) -> steps.Patients:
    kb = services.knowledge
    if config.data.source is not None:
        cases, _skipped = read_labelled(services, config.data.source, "[data] source", progress)
        return steps.patients_from_cases(config, cases, kb, out, progress=progress)
    folder = config.data.synthetic
    assert folder is not None  # the config allows exactly one of the two
    synthetic, _skipped = read_labelled(services, folder, "[data] synthetic", progress)
    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{folder} has no readable synthetic manifest: {exc}",
            hint="train on a folder written by `ocais synth`",
        ) from exc
    return steps.patients_from_synthetic(config, synthetic, manifest, kb)


def _evaluation_cases(
    services: Services, config: FinetuneConfig, patients: steps.Patients, progress: Progress | None
) -> list[Case]:
    if config.eval.cases is not None:
        cases, _skipped = read_labelled(services, config.eval.cases, "[eval] cases", progress)
        return cases
    return patients.heldout


def _evaluate(
    services: Services,
    adapter_dir: Path,
    manifest: dict[str, Any],
    cases: list[Case],
    *,
    base: Path,
    max_per_disease: int | None,
    out: Path,
    progress: Progress | None,
) -> dict[str, Any]:
    from ocais.finetune.train import import_training
    from ocais.llm.transformers_backend import TransformersBackend

    import_training()  # the extra's own progress bars off

    kb = services.knowledge
    names = steps.names_of(manifest)
    if progress is not None:
        progress("load model", 0, None)
    backend = TransformersBackend(str(base), adapter=str(adapter_dir))
    try:
        report = finetune_eval.evaluate_adapter(
            backend,
            cases,
            kb,
            names,
            grounder=grounder_for(kb),
            render=steps.render_options(manifest),
            exclude=manifest.get("real_cases_used", []),
            max_per_disease=max_per_disease,
            seed=int(manifest["config"].get("seed", 0)),
            progress=progress,
        )
    finally:
        backend.close()
    answers = report.pop("answers")
    report["adapter"] = str(adapter_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (out / "answers.jsonl").write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers), encoding="utf-8"
    )
    finetune_eval.write_evaluation_html(report, out / "evaluation.html")
    report["files"] = {
        "json": str(out / "evaluation.json"),
        "html": str(out / "evaluation.html"),
        "answers": str(out / "answers.jsonl"),
    }
    return report


def _headline(evaluation: dict[str, Any]) -> dict[str, Any]:
    return {
        "n": evaluation["n"],
        "before": {k: evaluation["before"][k] for k in ("accuracy", "sensitivity", "specificity")},
        "after": {k: evaluation["after"][k] for k in ("accuracy", "sensitivity", "specificity")},
        "difference": evaluation["difference"],
    }


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    (out / steps.MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
