"""The adapter's model card and the training data's dataset card: Markdown with Hugging Face
front matter (YAML), written from the run's manifest and evaluation; nothing is made up."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ocais.llm.adapters import BUNDLED_GEMMA


def _yaml(value: Any) -> str:
    """A scalar as YAML (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def model_card(manifest: Mapping[str, Any], evaluation: Mapping[str, Any] | None) -> str:
    base = manifest["base_model"]
    dataset = f"ocais-synthetic-{manifest['data'].get('synthetic_dataset') or 'unknown'}"
    front = [
        "---",
        f"base_model: {_yaml(base['name'])}",
        "library_name: peft",
        "pipeline_tag: text-generation",
        f"license: {'gemma' if base['name'] == BUNDLED_GEMMA else 'other'}",
        "tags: [ocais, lora, sft, trl, clinical, rare-disease, synthetic-data]",
        f"datasets: [{_yaml(str(dataset))}]",
    ]
    if evaluation is not None:
        front += [
            "model-index:",
            f"- name: {_yaml(base['name'] + '+ocais-lora')}",
            "  results:",
            "  - task: {type: text-classification, name: which of the tuned diseases}",
            "    dataset: {type: phenopackets, name: real held-out cases}",
            "    metrics:",
            f"    - {{type: accuracy, value: {evaluation['after']['accuracy']}, "
            "name: after fine-tuning}",
            f"    - {{type: accuracy, value: {evaluation['before']['accuracy']}, "
            "name: base model}",
            "  - task: {type: text-classification, name: is the diagnosis X (yes or no)}",
            "    dataset: {type: phenopackets, name: real held-out cases}",
            "    metrics:",
            f"    - {{type: recall, value: {evaluation['after']['sensitivity']}, "
            "name: sensitivity after fine-tuning}",
            f"    - {{type: specificity, value: {evaluation['after']['specificity']}, "
            "name: specificity after fine-tuning}",
        ]
    front.append("---")
    diseases = "\n".join(
        f"| {d['name']} | {d['id']} | {d['n_patients']} |" for d in manifest["diseases"]
    )
    training = manifest["training"]
    config = manifest["config"]
    data = manifest["data"]
    gate = data.get("privacy_gate") or {}
    body = [
        f"# LoRA adapter for {base['name']}: which of {len(manifest['diseases'])} diseases",
        "",
        "Fine-tuned by OCAIS (`ocais finetune run`) on synthetic patients, to name the most "
        "likely of the diseases below from a short case summary (sex, age, HPO findings), and "
        "to answer 'is the diagnosis X?' with yes or no.",
        "",
        "## Intended use",
        "Research and clinical decision support under a clinician's judgement, on cases "
        "summarized as HPO findings; it names only the diseases it was tuned on. Not a "
        "diagnostic device; not validated beyond the evaluation below. Check it on your own "
        "held-out cases (`ocais finetune evaluate`) before use.",
        "",
        "## Diseases",
        "| Disease | Id | Synthetic patients |",
        "|---|---|---|",
        diseases,
        "",
        "## Training data",
        f"- Synthetic patients: dataset `{dataset}` ({data.get('n_train_examples', 0)} training "
        f"and {data.get('n_heldout_examples', 0)} held-out examples; card in `data/README.md`).",
    ]
    if data.get("source"):
        body.append(
            f"- Drawn from {data.get('n_used_for_synthesis', 0)} de-identified real cases "
            f"(`{data['source']}`); {data.get('n_heldout', 0)} real cases held out and never "
            "used. Privacy gate: "
            + ("passed" if gate.get("passed") else "not passed")
            + f" (exact copies {gate.get('exact_copies')}, membership-inference AUC "
            f"{gate.get('mia_auc')})."
        )
    body += [
        f"- Prompt `{manifest['prompt_version']}`; chat template: {base['chat_template']} "
        "(saved as `chat_template.jinja`).",
        "",
        "## Training procedure",
        f"- Base: `{base['path']}` (SHA-256 `{base['sha256'][:16]}…`"
        + (f", revision {base['revision']}" if base.get("revision") else "")
        + ").",
        f"- LoRA r={config['lora']['r']}, alpha={config['lora']['alpha']}, dropout="
        f"{config['lora']['dropout']}, targets {config['lora']['target_modules']}; learning "
        f"rate {config['train']['learning_rate']}, batch {config['train']['batch_size']}, "
        f"{training['steps']} steps ({training['epochs']} epochs), max length "
        f"{config['train']['max_length']}, loss on the answer only: "
        f"{config['train']['completion_only_loss']}; seed {config['seed']}.",
        f"- Final training loss {training['train_loss']}, held-out (synthetic) loss "
        f"{training['heldout_loss']}; {training['seconds']} s.",
        "",
        "## Evaluation",
    ]
    if evaluation is None:
        body.append("Not evaluated yet: run `ocais finetune evaluate ADAPTER_DIR CASES_DIR`.")
    else:
        b, a = evaluation["before"], evaluation["after"]
        body += [
            f"On {evaluation['n']} real cases whose diagnosis is among these diseases (none "
            "used to make the training data):",
            "",
            "| Task | before | after |",
            "|---|---|---|",
            f"| Which disease (accuracy) | {_pct(b['accuracy'])} | {_pct(a['accuracy'])} |",
            f"| Is it X? sensitivity | {_pct(b['sensitivity'])} | {_pct(a['sensitivity'])} |",
            f"| Is it X? specificity | {_pct(b['specificity'])} | {_pct(a['specificity'])} |",
            "",
            "Per-disease figures and 95% intervals: `evaluation/evaluation.html`.",
        ]
    body += [
        "",
        "## How to use",
        "```",
        f"ocais llm serve --model {base['path']} --adapter ADAPTER_DIR",
        "# or in the service:",
        f"OCAIS_LLM_BACKEND=transformers OCAIS_LLM_MODEL={base['path']} \\",
        "OCAIS_LLM_ADAPTER=ADAPTER_DIR ocais serve",
        "```",
        "",
        "## Limitations",
        "Trained on synthetic patients drawn from phenotype profiles: real presentations "
        "outside those profiles, and diseases not listed, are beyond it. Small models learn "
        "the answer format quickly and the disease distinctions slowly; read the per-disease "
        "figures.",
    ]
    return "\n".join([*front, "", *body]) + "\n"


def dataset_card(
    manifest_data: Mapping[str, Any],
    counts: Mapping[str, int],
    names: Mapping[str, str],
    n_train: int,
    n_heldout: int,
    prompt_version: str,
    chat_template: str,
) -> str:
    rows = "\n".join(f"| {names[d]} | {d} | {counts.get(d, 0)} |" for d in names)
    front = [
        "---",
        "pretty_name: OCAIS synthetic diagnosis examples",
        "task_categories: [text-generation]",
        "tags: [ocais, synthetic-data, clinical, hpo, phenopackets]",
        "configs:",
        "- config_name: default",
        "  data_files: [{split: train, path: train.jsonl}, {split: heldout, path: heldout.jsonl}]",
        "---",
    ]
    body = [
        "# Synthetic diagnosis examples",
        "",
        "Prompt–completion pairs (TRL's conversational format) made from synthetic patients: "
        "a case summary (sex, age, the most specific HPO findings, a few excluded ones) → the "
        "diagnosis, or 'is the diagnosis X?' → yes/no. No real patient's record is included.",
        "",
        f"- Synthetic dataset: `{manifest_data.get('synthetic_dataset')}`; "
        + (
            f"drawn from {manifest_data.get('n_used_for_synthesis')} de-identified real cases "
            f"of `{manifest_data.get('source')}` (privacy gate passed)."
            if manifest_data.get("source")
            else f"from `{manifest_data.get('synthetic')}`."
        ),
        f"- {n_train} training and {n_heldout} held-out examples, split by patient.",
        f"- Prompt `{prompt_version}`; chat template: {chat_template}.",
        "- Files: `train.jsonl`, `heldout.jsonl` (with case and disease ids), `dataset/` "
        "(`datasets.load_from_disk`, conversations only).",
        "",
        "| Disease | Id | Patients |",
        "|---|---|---|",
        rows,
    ]
    return "\n".join([*front, "", *body]) + "\n"
