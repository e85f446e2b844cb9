"""What each kind of package holds, what it must pass to be packaged, and its card.

- ``dataset``: a synthetic set released through the privacy gate (``ocais synth release``):
  its phenopackets, ``report.json`` and dataset card. The gate is re-checked on the report and
  the report must describe exactly these files; an unreleased set is refused.
- ``model``: a learned predictor (``ocais learn fit``): ``model.json`` and the counted
  profiles. Only a model fitted on synthetic patients alone is packaged: the profiles of a
  model fitted on real cases are counts of those patients' phenotypes.
- ``adapter``: a LoRA adapter (``ocais finetune run``); the list of real cases it was
  evaluated against is replaced by its count and digest, local paths by file names.
- ``evaluation``: a benchmark's ``metrics.json`` (without per-record lists and with diseases of
  fewer than ``MIN_CELL`` cases pooled) and ``report.html``; never ``cases.jsonl``.

Lineage records hashes of source data, never case identifiers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ocais.errors import ConfigError, PackageError
from ocais.share.package import PICKLE_SUFFIXES, Payload

MIN_CELL = 5  # per-disease figures of fewer cases are pooled (small-cell suppression)
MODEL_FILES = ("model.json", "profiles.npz", "profiles.json")
DATASET_REPORT = "report.json"  # ocais.synth.release.REPORT_FILE (imported lazily: scipy)
DATASET_MANIFEST = "ocais-manifest.json"  # ocais.synth.release.MANIFEST_FILE
ADAPTER_MANIFEST = "ocais-adapter.json"


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def phenopacket_paths(folder: Path) -> list[Path]:
    """The phenopackets of a synthetic set: ``*.json`` except its manifest and report."""
    from ocais.synth.release import REPORT_FILE, phenopacket_files

    return [p for p in phenopacket_files(folder) if p.name != REPORT_FILE]


def phenopackets_digest(folder: Path) -> str:
    """:func:`ocais.synth.release.files_digest` of a set's phenopackets: how a model's
    training set is matched with the dataset package that carries it, at any site."""
    from ocais.synth.release import files_digest

    return files_digest(folder, phenopacket_paths(folder))


def _diagnoses(paths: list[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in paths:
        try:
            packet = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for interpretation in packet.get("interpretations") or []:
            disease = ((interpretation or {}).get("diagnosis") or {}).get("disease") or {}
            if disease.get("id"):
                found.setdefault(disease["id"], disease.get("label") or disease["id"])
    return found


# --- dataset ----------------------------------------------------------------------------------
def dataset_payload(folder: Path) -> Payload:
    from ocais.synth.privacy import SynthReport
    from ocais.synth.release import check_gate, files_digest

    report_path = folder / DATASET_REPORT
    if not report_path.is_file():
        raise PackageError(
            f"{folder} was not released through the privacy gate (no {DATASET_REPORT})",
            hint="release it through the gate first: `ocais synth release SYNTH --source SRC "
            "--holdout HOLDOUT --out RELEASED`, then package RELEASED",
        )
    try:
        report = SynthReport.model_validate(_json(report_path))
    except ValueError as exc:
        raise PackageError(f"{report_path} is not a privacy report: {exc}") from exc
    gate = check_gate(report)
    if not gate.passed:
        raise PackageError(
            f"{folder} does not pass the privacy gate: " + "; ".join(gate.failures),
            hint="regenerate the set with stronger privacy settings and release it again",
        )
    packets = phenopacket_paths(folder)
    if len(packets) != report.privacy.n_synthetic:
        raise PackageError(
            f"{folder} holds {len(packets)} phenopackets, its report measured "
            f"{report.privacy.n_synthetic}: the report does not describe these files"
        )
    sources = report.provenance.parameters.get("sources") or {}
    expected = sources.get("synthetic_sha256")
    if expected is not None and files_digest(folder, packets) != expected:
        raise PackageError(f"the phenopackets of {folder} are not those its report measured")
    files: dict[str, Path | bytes] = {p.relative_to(folder).as_posix(): p for p in packets}
    files[DATASET_REPORT] = report_path
    for extra in ("DATASET_CARD.md", DATASET_MANIFEST):
        if (folder / extra).is_file():
            files[extra] = folder / extra
    diseases = _diagnoses(packets)
    privacy = report.privacy
    return Payload(
        files=files,
        synthetic=True,
        intended_use="Training and evaluating diagnostic predictors and LLMs (rare diseases); "
        "software testing. Synthetic patients: not for clinical decisions about a person.",
        summary={
            "n_cases": len(packets),
            "n_diseases": len(diseases),
            "diseases": [{"id": d, "name": n} for d, n in sorted(diseases.items())],
            "phenopackets_sha256": phenopackets_digest(folder),
        },
        lineage={
            "sources": [
                {
                    "role": "source cases (de-identified, real)",
                    "sha256": sources.get("source_sha256"),
                    "n": privacy.n_source,
                },
                {
                    "role": "holdout cases (privacy check)",
                    "sha256": sources.get("holdout_sha256"),
                    "n": privacy.n_holdout,
                },
            ],
            "generator": report.provenance.parameters.get("generator"),
            "software": report.provenance.created_by,
        },
        privacy={
            "gate": {"passed": True, "thresholds": gate.thresholds.model_dump()},
            "exact_copies": privacy.exact_copies,
            "near_copy_rate": privacy.near_copy_rate,
            "near_copy_threshold": privacy.near_copy_threshold,
            "mia_auc": privacy.mia_auc,
            "dcr_synthetic_median": privacy.dcr_synthetic_median,
            "dcr_holdout_median": privacy.dcr_holdout_median,
        },
        evaluation=(
            report.utility.model_dump(mode="json", exclude_none=True) if report.utility else None
        ),
        knowledge={"hpo_version": report.provenance.knowledge_version},
    )


# --- model ------------------------------------------------------------------------------------
def _training_source(entry: dict[str, Any]) -> dict[str, Any]:
    """What a model's training folder was, from what it still holds (hashes and counts)."""
    path = Path(str(entry.get("path", "")))
    described: dict[str, Any] = {"role": "training set"}
    for key in ("phenopackets_sha256", "package", "n_cases"):
        if entry.get(key) is not None:
            described[key] = entry[key]
    if not path.is_dir():
        return described
    if "phenopackets_sha256" not in described:  # recorded when the model was fitted
        described["phenopackets_sha256"] = phenopackets_digest(path)
    manifest = path / DATASET_MANIFEST
    if manifest.is_file():
        data = _json(manifest)
        source = data.get("source") or {}
        described["synthetic"] = bool(data.get("synthetic"))
        described["generator"] = data.get("generator")
        described["source_cases_sha256"] = source.get("cases_sha256")
        options = data.get("options") or {}
        described["privacy_filter"] = {
            "min_distance": options.get("min_distance"),  # redrawn when closer to a source case
            "support": options.get("support"),
            "epsilon": options.get("epsilon"),
            "release_gate": "passed" if (path / DATASET_REPORT).is_file() else "not run",
        }
    report = path / DATASET_REPORT
    if report.is_file():
        data = _json(report)
        described["privacy_gate"] = {
            "mia_auc": (data.get("privacy") or {}).get("mia_auc"),
            "exact_copies": (data.get("privacy") or {}).get("exact_copies"),
        }
    return described


def model_payload(folder: Path, evaluation_dir: Path | None = None) -> Payload:
    model_file = folder / "model.json"
    if not model_file.is_file():
        raise PackageError(
            f"{folder} is not a learned model (no model.json)",
            hint="pass the --out folder of `ocais learn fit`",
        )
    model = _json(model_file)
    if not isinstance(model, dict) or model.get("format") != "ocais-learned-predictor/1":
        raise PackageError(f"{model_file} is not an ocais-learned-predictor/1 model")
    for name in MODEL_FILES:
        if not (folder / name).is_file():
            raise PackageError(f"{folder} lacks {name}: refit with `ocais learn fit`")
    _check_npz(folder / "profiles.npz")
    training = model.get("training") or {}
    n_cases, n_synthetic = training.get("n_cases"), training.get("n_synthetic")
    if not n_cases or n_synthetic != n_cases:
        raise PackageError(
            f"{folder} was fitted on {n_cases or 0:,} cases of which {n_synthetic or 0:,} are "
            "synthetic: only a model fitted on synthetic patients alone is shared (its profiles "
            "count the phenotypes of the cases it was fitted on)",
            hint="synthesize from your cases (`ocais synth from-cases`) and fit on that set",
        )
    provenance = model.get("provenance") or {}
    recorded = training.get("sources") or [{"path": provenance.get("source")}]
    sources = [_training_source(e) for e in recorded if isinstance(e, dict)]
    options = model.get("options") or {}
    diseases = _json(folder / "profiles.json")
    ids = diseases.get("disease_ids") if isinstance(diseases, dict) else None
    summary: dict[str, Any] = {
        "predictor": "learned",
        "n_cases": n_cases,
        "n_diseases": training.get("n_diseases"),
        "n_new_diseases": training.get("n_new_diseases"),
        "cross_fitted_top1": training.get("cross_fitted_top1"),
    }
    if isinstance(ids, list):
        summary["diseases"] = [str(d) for d in ids][:5000]
    evaluation = evaluation_summary(evaluation_dir) if evaluation_dir is not None else None
    return Payload(
        files={name: folder / name for name in MODEL_FILES},
        synthetic=True,
        intended_use="Ranking rare diseases from HPO phenotypes (`--predictor learned`), as "
        "decision support for clinicians who confirm every diagnosis; not a diagnosis itself.",
        summary=summary,
        lineage={
            "sources": sources,
            "training_cases_sha256": training.get("cases_sha256"),
            "config": options,
            "seed": options.get("seed"),
            "software": provenance.get("created_by"),
        },
        privacy={
            "trained_on": "synthetic patients only",
            "training_sets": [s.get("privacy_gate") or s.get("privacy_filter") for s in sources],
        },
        evaluation=evaluation,
        knowledge={"hpo_version": provenance.get("knowledge_version")},
    )


def _check_npz(path: Path) -> None:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as arrays:
            for name in arrays.files:
                arrays[name]
    except (ValueError, OSError) as exc:
        raise PackageError(f"{path} holds objects (a pickle) or is not an .npz: {exc}") from exc


# --- adapter ----------------------------------------------------------------------------------
def adapter_payload(folder: Path) -> Payload:
    if not (folder / "adapter_config.json").is_file():
        raise PackageError(
            f"{folder} is not a LoRA adapter (no adapter_config.json)",
            hint="pass the adapter folder of `ocais finetune run`",
        )
    manifest_path = folder / ADAPTER_MANIFEST
    if not manifest_path.is_file():
        raise PackageError(
            f"{folder} has no {ADAPTER_MANIFEST}: its training data is unknown, so it is not "
            "shared",
            hint="fine-tune with `ocais finetune run`",
        )
    manifest = _json(manifest_path)
    files: dict[str, Path | bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or rel.split("/")[0].startswith("checkpoint-"):
            continue
        if rel.split("/")[0] in ("data", "runs") or path.name == "training_args.bin":
            continue  # training byproducts (the examples are in the dataset package)
        if path.name.lower().endswith(PICKLE_SUFFIXES):
            raise PackageError(f"{rel} is a pickle: packages carry no pickle")
        files[rel] = path
    shared = dict(manifest)
    used = shared.pop("real_cases_used", None) or []
    shared["real_cases_used"] = {
        "n": len(used),
        "sha256": hashlib.sha256("\n".join(sorted(map(str, used))).encode()).hexdigest(),
    }
    base = dict(shared.get("base_model") or {})
    if base.get("path"):
        base["path"] = Path(str(base["path"])).name
    shared["base_model"] = base
    files[ADAPTER_MANIFEST] = json.dumps(shared, indent=1).encode("utf-8")
    data = manifest.get("data") or {}
    evaluation = None
    for candidate in (folder / "evaluation.json", folder.parent / "evaluation.json"):
        if candidate.is_file():
            evaluation = _adapter_evaluation(_json(candidate))
            break
    return Payload(
        files=files,
        synthetic=True,
        intended_use="Explaining and naming rare diseases from findings with the base model it "
        "names (`ocais llm serve --adapter`); research use, every answer checked by a clinician.",
        summary={
            "base_model": {k: base.get(k) for k in ("name", "sha256", "revision")},
            "prompt_version": manifest.get("prompt_version"),
            "diseases": manifest.get("diseases"),
        },
        lineage={
            "sources": [
                {"role": "training examples", "sha256": (data.get("files_sha256") or {})},
                {"role": "real cases evaluated against", **shared["real_cases_used"]},
            ],
            "config": manifest.get("config"),
            "seed": (manifest.get("config") or {}).get("seed"),
            "software": manifest.get("software"),
        },
        privacy={"trained_on": "synthetic patients that passed the privacy gate"},
        evaluation=evaluation,
    )


def _adapter_evaluation(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    return {k: data.get(k) for k in ("n", "before", "after", "difference") if k in data}


# --- evaluation -------------------------------------------------------------------------------
def evaluation_summary(folder: Path) -> dict[str, Any]:
    """Aggregate figures of a benchmark folder (``metrics.json``)."""
    return _summary(_benchmark_metrics(folder))


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "n_cases": metrics.get("n_cases"),
        "knowledge": metrics.get("knowledge"),
        "predictors": {
            name: {
                "metrics": result.get("metrics"),
                "options": _public_options(result.get("options") or {}),
            }
            for name, result in (metrics.get("predictors") or {}).items()
        },
    }


def _public_options(options: dict[str, Any]) -> dict[str, Any]:
    shown = dict(options)
    if "model_dir" in shown:
        shown["model_dir"] = Path(str(shown["model_dir"])).name
    return shown


def _benchmark_metrics(folder: Path) -> dict[str, Any]:
    path = folder / "metrics.json"
    if not path.is_file():
        raise PackageError(
            f"{folder} is not a benchmark folder (no metrics.json)",
            hint="pass the --out folder of `ocais benchmark`",
        )
    data = _json(path)
    if not isinstance(data, dict) or "predictors" not in data:
        raise PackageError(f"{path} is not the metrics of `ocais benchmark`")
    return data


def evaluation_payload(folder: Path) -> Payload:
    metrics = _benchmark_metrics(folder)
    evaluation = _summary(metrics)  # before the per-predictor entries are edited below
    shared = dict(metrics)
    shared.pop("skipped", None)  # record names of the evaluated site
    shared.pop("files", None)
    shared["source"] = "held-out cases of the creating site (not shared)"
    pooled = 0
    for result in (shared.get("predictors") or {}).values():
        rows = result.get("per_disease") or []
        kept = [r for r in rows if int(r.get("n_cases", 0)) >= MIN_CELL]
        pooled = max(pooled, len(rows) - len(kept))
        result["per_disease"] = kept
        result["options"] = _public_options(result.get("options") or {})
    files: dict[str, Path | bytes] = {"metrics.json": json.dumps(shared, indent=1).encode()}
    if (folder / "report.html").is_file() and pooled == 0:
        files["report.html"] = folder / "report.html"
    return Payload(
        files=files,
        synthetic=False,
        intended_use="Evidence of how well predictors rank diseases on the creating site's "
        "held-out real cases (aggregate figures only).",
        summary={
            "n_cases": metrics.get("n_cases"),
            "predictors": sorted((metrics.get("predictors") or {}).keys()),
            "diseases_pooled_below_min_cell": pooled,
            "min_cell": MIN_CELL,
        },
        lineage={"software": metrics.get("software")},
        evaluation=evaluation,
        knowledge=metrics.get("knowledge"),
    )


def payload_for(kind: str, folder: Path, *, evaluation_dir: Path | None = None) -> Payload:
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder", hint=f"pass the folder of the {kind}")
    if evaluation_dir is not None and kind != "model":
        raise ConfigError("--evaluation goes with model packages only")
    if kind == "dataset":
        return dataset_payload(folder)
    if kind == "model":
        return model_payload(folder, evaluation_dir)
    if kind == "adapter":
        return adapter_payload(folder)
    if kind == "evaluation":
        return evaluation_payload(folder)
    raise ConfigError(
        f"unknown package kind {kind!r}", hint="kinds: dataset, model, adapter, evaluation"
    )


# --- the card -----------------------------------------------------------------------------------
def render_card(
    kind: str,
    payload: Payload,
    *,
    name: str,
    version: str,
    license: str,
    description: str,
    site: str,
    fingerprint: str,
) -> str:
    """A Hugging Face-compatible card: YAML front matter, then what, from what, how checked."""
    front: dict[str, Any] = {
        "license": license.lower(),
        "tags": [
            "ocais",
            "rare-disease",
            "hpo",
            kind,
            "synthetic" if payload.synthetic else "real",
        ],
        "ocais": {
            "kind": kind,
            "name": name,
            "version": version,
            "site": site,
            "signer": fingerprint,
        },
    }
    if kind == "model":
        front["library_name"] = "ocais"
        front["pipeline_tag"] = "tabular-classification"
    if kind == "dataset":
        front["task_categories"] = ["tabular-classification"]
        front["size_categories"] = [_size_category(int(payload.summary.get("n_cases") or 0))]
    if kind == "adapter":
        front["library_name"] = "peft"
        base = (payload.summary.get("base_model") or {}).get("name")
        if base:
            front["base_model"] = base
    lines = [
        "---",
        *(f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in front.items()),
        "---",
        "",
        f"# {name} {version} ({kind})",
        "",
        description or f"An OCAIS {kind} package from site {site}.",
        "",
        "## Intended use",
        payload.intended_use,
        "",
        "**Data:** "
        + ("synthetic patients." if payload.synthetic else "aggregate figures of real cases."),
        "",
        "## Summary",
        _kv(payload.summary, skip=("diseases",)),
    ]
    if payload.privacy:
        lines += ["", "## Privacy", _kv(payload.privacy)]
    if payload.evaluation:
        lines += [
            "",
            "## Evaluation",
            "```json",
            json.dumps(payload.evaluation, indent=1)[:6000],
            "```",
        ]
    lines += [
        "",
        "## Lineage",
        "```json",
        json.dumps(payload.lineage, indent=1)[:6000],
        "```",
        "",
        f"Signed by site **{site}**, key fingerprint `{fingerprint}`.",
        "",
    ]
    return "\n".join(lines)


def _kv(values: dict[str, Any], skip: tuple[str, ...] = ()) -> str:
    return "\n".join(
        f"- **{k}**: {json.dumps(v) if isinstance(v, dict | list) else v}"
        for k, v in values.items()
        if k not in skip
    )


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return label
    return "100K<n<1M"
