"""One fine-tuning run, end to end (``ocais finetune run CONFIG``):

1. **patients** — real (de-identified) cases are split by cohort or case; synthetic patients of
   the tuned diseases are drawn from the training part only and must pass the privacy gate
   (:func:`ocais.synth.release.check_gate`); or an existing ``ocais synth`` folder is used;
2. **examples** — :mod:`ocais.finetune.examples`, written as JSON Lines and a ``datasets``
   folder with a dataset card;
3. **training** — :mod:`ocais.finetune.train` (LoRA, TRL), the adapter written at ``out``;
4. **evaluation** — before/after on the held-out real cases (:mod:`ocais.finetune.evaluate`);
5. **model card** — ``README.md`` with Hugging Face front matter, and ``ocais-adapter.json``
   (base model and its digest, diseases, prompts, data digests, the real cases used, metrics).

``out`` is then an adapter directory that ``ocais llm serve --adapter`` and the
``transformers`` backend load, and ``ocais finetune evaluate`` checks on other cases.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocais import __version__
from ocais.errors import ConfigError, ReleaseRefusedError
from ocais.finetune.cards import model_card
from ocais.finetune.config import FinetuneConfig
from ocais.finetune.examples import (
    PROMPT_VERSION,
    ExampleSet,
    RenderOptions,
    to_datasets,
    write_jsonl,
)
from ocais.finetune.train import CHECKPOINTS
from ocais.knowledge import KnowledgeBase
from ocais.learn.profiles import truth_of
from ocais.llm.adapters import ADAPTER_MANIFEST, BUNDLED_GEMMA
from ocais.llm.chat_format import GEMMA_CHAT_TEMPLATE
from ocais.loop.split import split_cases
from ocais.schemas import Case
from ocais.synth.generate import from_cases
from ocais.synth.manifest import synthetic_manifest
from ocais.synth.phenopackets import check_out_dir, write_phenopackets
from ocais.synth.privacy import build_report, report_json
from ocais.synth.release import check_gate

Progress = Callable[[str, int, int | None], None]
MANIFEST = ADAPTER_MANIFEST
ADAPTER_FORMAT = "ocais-lora-adapter/1"
#: what PEFT and the tokenizer write into the adapter directory
ADAPTER_FILES = (
    "adapter_config.json",
    "adapter_model.safetensors",
    "chat_template.jinja",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "training_args.bin",
)
OUTPUTS = {
    "manifest": MANIFEST,
    "card": "README.md",
    "metrics": "metrics.json",
    "data": "data",
    "synthetic": "synthetic",
    "privacy": "synthetic-privacy.json",
    "split": "split.json",
    "evaluation": "evaluation",
}


@dataclass
class Patients:
    """The synthetic training patients, the real cases held out, and what was used."""

    synthetic: list[Case]
    heldout: list[Case]
    diseases: list[str]
    used_case_ids: list[str] = field(default_factory=list)  # real cases behind the synthetic
    data: dict[str, Any] = field(default_factory=dict)  # where they came from, gate figures


def model_digest(path: Path) -> str:
    """SHA-256 of a GGUF file, or of a model directory's config and weight files."""
    digest = hashlib.sha256()
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.iterdir() if p.suffix in {".json", ".safetensors", ".bin"})
    )
    for file in files:
        if path.is_dir():
            digest.update(file.name.encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def top_diseases(cases: Sequence[Case], kb: KnowledgeBase, n: int) -> list[str]:
    """The ``n`` most frequent diagnoses (ties by id), among diseases the knowledge base has."""
    counts = Counter(t for c in cases if (t := truth_of(c)) is not None and kb.has_disease(t))
    return [d for d, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]]


def patients_from_cases(
    config: FinetuneConfig,
    cases: Sequence[Case],
    kb: KnowledgeBase,
    out: Path,
    *,
    progress: Progress | None = None,
) -> Patients:
    """Split the real cases, draw synthetic patients of the tuned diseases from the training
    part, and refuse them if they fail the privacy gate."""
    data = config.data
    train, heldout = split_cases(
        cases, holdout_fraction=data.holdout_fraction, by=data.split_by, seed=config.seed
    )
    diseases = list(data.diseases) or top_diseases(train, kb, data.top_diseases)
    if not diseases:
        raise ConfigError("no disease to tune", hint="set [data] diseases, or use more cases")
    tuned = set(diseases)
    sources = [c for c in train if truth_of(c) in tuned]
    missing = sorted(tuned - {truth_of(c) for c in sources})
    if missing:
        raise ConfigError(
            f"no training case of {', '.join(missing[:5])}",
            hint="drop these from [data] diseases, or use more cases",
        )
    options = config.synth_options()
    synthetic = from_cases(sources, kb, options, source=str(data.source), progress=progress)
    # membership inference compares training and held-out cases of the same diseases
    heldout_tuned = [c for c in heldout if truth_of(c) in tuned]
    report = build_report(synthetic, sources, heldout_tuned, kb, utility=False)
    (out / OUTPUTS["privacy"]).write_text(report_json(report), encoding="utf-8")
    gate = check_gate(report, data.gate)
    if not gate.passed:
        raise ReleaseRefusedError(
            "the synthetic training patients failed the privacy gate: " + "; ".join(gate.failures),
            failures=gate.failures,
            hint=f"see {out / OUTPUTS['privacy']}; raise [data.synth] min_distance or set epsilon",
        )
    manifest = synthetic_manifest(
        synthetic,
        kb,
        options,
        generator="from-cases",
        source={"path": str(data.source), "n_cases": len(sources), "split": "train"},
        extra={"finetune": {"seed": config.seed, "diseases": diseases}},
    )
    write_phenopackets(synthetic, out / OUTPUTS["synthetic"], manifest, overwrite=True)
    (out / OUTPUTS["split"]).write_text(
        json.dumps(
            {
                "by": data.split_by,
                "holdout_fraction": data.holdout_fraction,
                "seed": config.seed,
                "used_for_synthesis": [c.id for c in sources],
                "heldout": [c.id for c in heldout],
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return Patients(
        synthetic=synthetic,
        heldout=heldout,
        diseases=diseases,
        used_case_ids=[c.id for c in sources],
        data={
            "source": str(data.source),
            "n_real_cases": len(cases),
            "n_used_for_synthesis": len(sources),
            "n_heldout": len(heldout),
            "synthetic_dataset": manifest.get("dataset_id"),
            "privacy_gate": {
                "passed": gate.passed,
                "exact_copies": report.privacy.exact_copies,
                "near_copy_rate": report.privacy.near_copy_rate,
                "mia_auc": report.privacy.mia_auc,
            },
        },
    )


def patients_from_synthetic(
    config: FinetuneConfig, synthetic: Sequence[Case], manifest: dict[str, Any], kb: KnowledgeBase
) -> Patients:
    """An ``ocais synth`` folder's patients (no real case held out here)."""
    if not all(c.synthetic for c in synthetic):
        raise ConfigError(
            f"{config.data.synthetic} holds cases that are not marked synthetic",
            hint="train on a folder written by `ocais synth` (real cases go in [data] source)",
        )
    diseases = list(config.data.diseases) or top_diseases(synthetic, kb, config.data.top_diseases)
    return Patients(
        synthetic=list(synthetic),
        heldout=[],
        diseases=diseases,
        used_case_ids=[],
        data={
            "synthetic": str(config.data.synthetic),
            "synthetic_dataset": manifest.get("dataset_id"),
            "n_real_cases": 0,
        },
    )


def write_examples(examples: ExampleSet, directory: Path, card: str) -> dict[str, Any]:
    """JSON Lines, a ``datasets`` folder and the dataset card; returns their digests."""
    directory.mkdir(parents=True, exist_ok=True)
    digests = {
        "train.jsonl": write_jsonl(examples.train, directory / "train.jsonl"),
        "heldout.jsonl": write_jsonl(examples.heldout, directory / "heldout.jsonl"),
    }
    to_datasets(examples).save_to_disk(str(directory / "dataset"))
    (directory / "README.md").write_text(card, encoding="utf-8")
    return digests


def prepare_out(out: Path, *, resume: bool, overwrite: bool) -> None:
    if resume:
        if not (out / "checkpoints").is_dir():
            raise ConfigError(f"nothing to resume in {out}", hint="run without --resume")
        return
    check_out_dir(
        out,
        overwrite=overwrite,
        hint="choose a new --out, pass --resume to continue an interrupted run, or --overwrite",
    )
    if overwrite and out.is_dir():  # an earlier run's outputs go, and only they
        for name in [*OUTPUTS.values(), CHECKPOINTS, *ADAPTER_FILES]:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


@contextmanager
def stage(timings: dict[str, float], name: str, progress: Progress | None) -> Any:
    if progress is not None:
        progress(name, 0, None)
    started = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - started, 1)


def adapter_manifest(
    config: FinetuneConfig,
    base: Path,
    patients: Patients,
    examples: ExampleSet,
    digests: dict[str, Any],
    metrics: dict[str, Any],
    timings: dict[str, float],
) -> dict[str, Any]:
    """What the adapter is, what it was trained on and how (``ocais-adapter.json``)."""
    return {
        "format": ADAPTER_FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "software": f"ocais {__version__}",
        "base_model": {
            "name": config.base.model if config.base.model == BUNDLED_GEMMA else base.name,
            "path": str(base),
            "sha256": model_digest(base),
            "revision": config.base.revision,
            "chat_template": config.base.chat_template,
        },
        "chat_template": GEMMA_CHAT_TEMPLATE if config.base.chat_template == "gemma" else None,
        "prompt_version": PROMPT_VERSION,
        "render": {
            "max_findings": config.data.max_findings,
            "max_excluded": config.data.max_excluded,
        },
        "diseases": [
            {"id": d, "name": examples.diseases[d], "n_patients": examples.counts.get(d, 0)}
            for d in examples.diseases
        ],
        "data": patients.data
        | {
            "n_train_examples": len(examples.train),
            "n_heldout_examples": len(examples.heldout),
            "files_sha256": digests,
        },
        "real_cases_used": patients.used_case_ids,
        "config": config.model_dump(mode="json"),
        "training": metrics,
        "timings": timings,
    }


def read_adapter_manifest(directory: Path) -> dict[str, Any]:
    """An adapter directory's ``ocais-adapter.json`` (a clear error when it is not one)."""
    path = directory / MANIFEST
    if not (directory / "adapter_config.json").is_file():
        raise ConfigError(
            f"{directory} is not an adapter directory (no adapter_config.json)",
            hint="pass the --out directory of `ocais finetune run`",
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{directory} has no {MANIFEST}: not written by `ocais finetune run`",
            hint="its diseases and base model are unknown; fine-tune with `ocais finetune run`",
        ) from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if manifest.get("format") != ADAPTER_FORMAT:
        raise ConfigError(f"{path} is of format {manifest.get('format')!r}, not {ADAPTER_FORMAT}")
    return dict(manifest)


def render_options(manifest: dict[str, Any]) -> RenderOptions:
    render = manifest.get("render") or {}
    return RenderOptions(
        max_findings=int(render.get("max_findings", 8)),
        max_excluded=int(render.get("max_excluded", 2)),
    )


def names_of(manifest: dict[str, Any]) -> dict[str, str]:
    return {d["id"]: d["name"] for d in manifest.get("diseases", [])}


def write_cards(out: Path, manifest: dict[str, Any], evaluation: dict[str, Any] | None) -> None:
    (out / OUTPUTS["card"]).write_text(model_card(manifest, evaluation), encoding="utf-8")
