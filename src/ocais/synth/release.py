"""The release gate: a synthetic set leaves the site only if its report passes the thresholds.

:func:`check_gate` compares a :class:`~ocais.synth.privacy.SynthReport` with
:class:`GateThresholds`; :func:`release` refuses (``ReleaseRefusedError``, nothing written) when
the gate fails or the report does not describe the directory being released, and otherwise
publishes the phenopacket files with ``report.json`` and a ``DATASET_CARD.md``, atomically (a
temporary directory beside the target, renamed into place).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ocais.errors import ConfigError, ReleaseRefusedError
from ocais.synth.privacy import SynthReport, report_json

MANIFEST_FILE = "ocais-manifest.json"
CARD_FILE = "DATASET_CARD.md"
REPORT_FILE = "report.json"
MANIFEST_VALUE_CHARS = 300


class GateThresholds(BaseModel):
    """Limits a synthetic set must meet to be released (``None``: not checked)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_exact_copies: int = Field(0, ge=0, description="Synthetic cases copying a source case")
    max_mia_auc: float | None = Field(
        0.60, ge=0.5, le=1.0, description="Membership-inference AUC (0.5 = no leakage)"
    )
    max_near_copy_rate: float | None = Field(
        None, ge=0.0, le=1.0, description="Share of synthetic cases within the near-copy distance"
    )
    min_fidelity_correlation: float | None = Field(
        None, ge=-1.0, le=1.0, description="Median per-disease phenotype-frequency correlation"
    )


class GateResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool
    failures: list[str] = Field(default_factory=list, description="One reason per failed limit")
    thresholds: GateThresholds


class ReleaseResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out_dir: str
    files: list[str] = Field(description="Released phenopacket files, relative to out_dir")
    gate: GateResult


def check_gate(report: SynthReport, thresholds: GateThresholds | None = None) -> GateResult:
    """Compare the report with the thresholds; a figure the report lacks fails its check."""
    limits = thresholds or GateThresholds()
    privacy, failures = report.privacy, []
    if privacy.exact_copies > limits.max_exact_copies:
        failures.append(
            f"exact_copies = {privacy.exact_copies} exceeds max_exact_copies = "
            f"{limits.max_exact_copies} (synthetic cases identical to a source case)"
        )
    if limits.max_mia_auc is not None:
        if privacy.mia_auc is None:
            failures.append(
                f"mia_auc was not measured (no holdout cases); max_mia_auc = {limits.max_mia_auc}"
            )
        elif privacy.mia_auc > limits.max_mia_auc:
            failures.append(
                f"mia_auc = {privacy.mia_auc:.3f} exceeds max_mia_auc = {limits.max_mia_auc}"
            )
    if limits.max_near_copy_rate is not None and privacy.near_copy_rate > limits.max_near_copy_rate:
        failures.append(
            f"near_copy_rate = {privacy.near_copy_rate:.4f} exceeds max_near_copy_rate = "
            f"{limits.max_near_copy_rate} (Jaccard distance ≤ {privacy.near_copy_threshold})"
        )
    if limits.min_fidelity_correlation is not None:
        median = report.fidelity.median_correlation
        if median is None or median < limits.min_fidelity_correlation:
            shown = "not measurable" if median is None else f"{median:.3f}"
            failures.append(
                f"median fidelity correlation = {shown} is below min_fidelity_correlation = "
                f"{limits.min_fidelity_correlation}"
            )
    return GateResult(passed=not failures, failures=failures, thresholds=limits)


def phenopacket_files(synth_dir: Path) -> list[Path]:
    """The ``*.json`` files under ``synth_dir`` (recursively) except the manifest, sorted."""
    return sorted(
        p for p in Path(synth_dir).rglob("*.json") if p.is_file() and p.name != MANIFEST_FILE
    )


def files_digest(root: Path, files: list[Path]) -> str:
    """sha256 over the files' relative paths and contents (order-independent of the listing)."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def release(
    synth_dir: str | Path,
    report: SynthReport,
    thresholds: GateThresholds | None,
    out_dir: str | Path,
) -> ReleaseResult:
    """Publish ``synth_dir``'s phenopackets into ``out_dir`` if ``report`` passes the gate.

    Refuses (``ReleaseRefusedError``, nothing written) when the gate fails, when the number of
    phenopacket files differs from the report's synthetic case count, or when the report's
    ``sources["synthetic_sha256"]`` (if given) is not :func:`files_digest` of those files.
    ``out_dir`` must not exist or be empty (``ConfigError`` otherwise).
    """
    source_dir, target = Path(synth_dir), Path(out_dir)
    limits = thresholds or GateThresholds()
    gate = check_gate(report, limits)
    if not gate.passed:
        raise ReleaseRefusedError(
            f"release of {source_dir} refused: " + "; ".join(gate.failures),
            failures=gate.failures,
        )
    files = phenopacket_files(source_dir)
    _check_matches(source_dir, files, report)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(
            f"{target} already exists and is not an empty directory",
            hint="release into a new directory",
        )
    relative = [p.relative_to(source_dir).as_posix() for p in files]
    if CARD_FILE in relative or REPORT_FILE in relative:
        raise ConfigError(f"{source_dir} holds a {REPORT_FILE} or {CARD_FILE} of its own")
    manifest = _manifest(source_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for path, name in zip(files, relative, strict=True):
            destination = staging / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        (staging / REPORT_FILE).write_text(report_json(report), encoding="utf-8")
        (staging / CARD_FILE).write_text(
            dataset_card(report, gate, manifest, len(files)), encoding="utf-8"
        )
        os.chmod(staging, 0o755)  # mkdtemp makes it private to its creator
        if target.exists():
            target.rmdir()  # empty (checked above): rename cannot replace it on every platform
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ReleaseResult(out_dir=str(target), files=relative, gate=gate)


def _check_matches(source_dir: Path, files: list[Path], report: SynthReport) -> None:
    failures = []
    if not files:
        failures.append(f"{source_dir} holds no phenopacket (*.json) files")
    elif len(files) != report.privacy.n_synthetic:
        failures.append(
            f"{source_dir} holds {len(files)} phenopacket files but the report measured "
            f"{report.privacy.n_synthetic} synthetic cases"
        )
    expected = (report.provenance.parameters.get("sources") or {}).get("synthetic_sha256")
    if files and expected is not None and expected != files_digest(source_dir, files):
        failures.append(f"the files of {source_dir} do not match the report's synthetic_sha256")
    if failures:
        raise ReleaseRefusedError(
            "release refused: the report does not describe this directory: " + "; ".join(failures),
            failures=failures,
            hint="re-run the privacy report on exactly the files to release",
        )


def _manifest(source_dir: Path) -> dict[str, Any] | None:
    path = source_dir / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ConfigError(f"{path} is not a JSON object")
    return manifest


# --- the dataset card -------------------------------------------------------------------------
def dataset_card(
    report: SynthReport, gate: GateResult, manifest: dict[str, Any] | None, n_files: int
) -> str:
    """Markdown: what the set is, how it was made, its figures, the gate, use and limits."""
    p, f, u = report.privacy, report.fidelity, report.utility
    lines = [
        "# Synthetic rare-disease patient set",
        "",
        f"{n_files:,} synthetic patients as GA4GH Phenopacket JSON files, made by OCAIS "
        f"({report.provenance.created_by}, HPO {report.provenance.knowledge_version}). They are "
        "not real patients: each was sampled from per-disease phenotype frequencies.",
        "",
        "## How it was generated",
        "",
    ]
    if manifest is None:
        lines.append(f"No {MANIFEST_FILE} was found beside the files.")
    else:
        lines += [f"From `{MANIFEST_FILE}`:", ""]
        lines += [f"- **{key}**: `{_short(value)}`" for key, value in manifest.items()]
    lines += [
        "",
        "## Privacy",
        "",
        f"Measured against {p.n_source:,} source cases and {p.n_holdout:,} holdout cases never "
        "used for generation; Jaccard distances between sets of observed and excluded HPO terms"
        + (", within the same diagnosis." if p.same_disease else "."),
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| exact copies of a source case | {p.exact_copies} ({100 * p.exact_copy_rate:.2f}%) |",
        f"| near copies (distance ≤ {p.near_copy_threshold:g}) | {p.near_copies} "
        f"({100 * p.near_copy_rate:.2f}%) |",
        f"| distance to closest source case, median (5th pct) | {p.dcr_synthetic_median:.3f} "
        f"({p.dcr_synthetic_p5:.3f}) |",
        f"| same for holdout cases, median (5th pct) | {_figure(p.dcr_holdout_median)} "
        f"({_figure(p.dcr_holdout_p5)}) |",
        f"| membership-inference AUC (0.5 = no leakage) | {_figure(p.mia_auc)} |",
        "",
        "## Fidelity",
        "",
        f"- Diseases: {f.n_synthetic_diseases:,} ({100 * f.disease_coverage:.1f}% of the "
        f"{f.n_source_diseases:,} source diseases).",
        f"- Median per-disease correlation of phenotype frequencies with the source: "
        f"{_figure(f.median_correlation)} over {f.n_compared:,} diseases.",
        f"- Observed terms per case: {f.mean_observed_synthetic:.2f} (source "
        f"{f.mean_observed_source:.2f}).",
        "",
        "## Utility",
        "",
    ]
    if u is None:
        lines.append("Not measured.")
    else:
        keys = [f"top{k}" for k in u.ks]
        lines += [
            f"A predictor trained on {u.n_train:,} synthetic cases and tested on {u.n_test:,} "
            "real holdout cases, next to the knowledge-only ranker:",
            "",
            "| predictor | " + " | ".join(keys) + " |",
            "| --- |" + " --- |" * len(keys),
            "| trained on synthetic | " + " | ".join(f"{u.learned[k]:.3f}" for k in keys) + " |",
            "| knowledge only | " + " | ".join(f"{u.knowledge[k]:.3f}" for k in keys) + " |",
        ]
    lines += ["", "## Release gate", ""]
    limits = gate.thresholds.model_dump()
    lines += [f"- {key}: {'not checked' if v is None else v}" for key, v in limits.items()]
    lines += [f"- **Result: {'passed' if gate.passed else 'failed'}**"]
    lines += [f"  - {reason}" for reason in gate.failures]
    lines += [
        "",
        "## Intended use",
        "",
        "Developing, testing and benchmarking diagnosis software, teaching, and sharing "
        "realistic examples where real patient data cannot be shared.",
        "",
        "## Limitations",
        "",
        "- Synthetic: the patients do not exist. Terms are drawn per disease, so correlations "
        "between features of one patient are not those of real patients.",
        "- Not for clinical decisions about individuals.",
        "- Which diseases are present is not hidden: the set reveals that the source held "
        "patients with these diagnoses.",
        "- The privacy figures are empirical tests against one attack, not a proof; only a "
        "differential-privacy setting in the manifest gives a formal guarantee.",
        "",
        f"Full figures: `{REPORT_FILE}`.",
        "",
    ]
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    text = text.replace("`", "'")
    return text if len(text) <= MANIFEST_VALUE_CHARS else text[: MANIFEST_VALUE_CHARS - 1] + "…"


def _figure(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
