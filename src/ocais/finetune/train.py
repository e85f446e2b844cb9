"""LoRA supervised fine-tuning with TRL's ``SFTTrainer`` and PEFT (the ``train`` extra).

The base model is loaded from local files only (a model directory, or a GGUF file dequantized by
transformers); the chat template is set explicitly when asked (``[base] chat_template =
"gemma"``), saved with the adapter, and used by the ``transformers`` backend that later loads
the adapter, so training and serving render conversations alike. Loss is on the answer tokens
only (``completion_only_loss``). Checkpoints are written every ``save_steps`` under
``checkpoints/``; ``resume`` continues from the last one.

torch, transformers, peft and trl are imported here only, inside functions: the service never
imports this module.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocais.errors import ConfigError, LLMUnavailableError
from ocais.finetune.config import FinetuneConfig
from ocais.llm.chat_format import GEMMA_CHAT_TEMPLATE
from ocais.llm.transformers_backend import load_pretrained

INSTALL_HINT = "pip install 'ocais[train]'"
CHECKPOINTS = "checkpoints"

#: (task, done, total) progress callback
Progress = Callable[[str, int, int | None], None]


@dataclass
class TrainingResult:
    """What training measured and wrote."""

    adapter_dir: Path
    steps: int
    epochs: float
    seconds: float
    train_loss: float | None
    heldout_loss: float | None
    trainable_parameters: int
    total_parameters: int
    resumed_from: str | None
    log: list[dict[str, float]] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "epochs": round(self.epochs, 4),
            "seconds": round(self.seconds, 1),
            "train_loss": self.train_loss,
            "heldout_loss": self.heldout_loss,
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
            "resumed_from": self.resumed_from,
            "log": self.log,
        }


def import_training() -> tuple[Any, Any, Any, Any]:
    """torch, transformers, peft and trl, or a clear error naming the extra. Their own
    progress bars and advice are silenced: the CLI shows one progress display."""
    try:
        import datasets
        import peft
        import torch
        import transformers
        import trl
    except ImportError as exc:
        raise LLMUnavailableError(
            f"fine-tuning needs torch, transformers, peft, trl and datasets ({exc.name} is "
            "missing)",
            hint=INSTALL_HINT,
        ) from exc
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    warnings.filterwarnings("ignore", message="Could not find a config file", module="peft")
    return torch, transformers, peft, trl


def load_base(config: FinetuneConfig, model_path: Path) -> tuple[Any, Any]:
    """(tokenizer, model) of the base, with the chat template and a pad token set."""
    torch, transformers, _peft, _trl = import_training()
    options = config.base
    device = torch.device(options.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LLMUnavailableError(
            f"[base] device {options.device!r} was asked for, but torch sees no CUDA GPU",
            hint="set device = 'cpu', or install a CUDA build of torch",
        )
    quantization = None
    if options.quantize_4bit:
        if device.type != "cuda":
            raise ConfigError("quantize_4bit (QLoRA) needs a CUDA device", hint="set device")
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise LLMUnavailableError(
                "quantize_4bit needs bitsandbytes", hint="pip install bitsandbytes"
            ) from exc
        quantization = transformers.BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    dtype = getattr(torch, options.dtype)
    tokenizer, model = load_pretrained(
        model_path, device=device, dtype=dtype, quantization=quantization
    )
    if model_path.is_file():
        _dequantized(model)
    if options.chat_template == "gemma":
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    elif not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"the tokenizer of {model_path} has no chat template",
            hint="set [base] chat_template = 'gemma', or use a model that ships one",
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if quantization is not None:
        import peft

        model = peft.prepare_model_for_kbit_training(model)
    return tokenizer, model


def train_adapter(
    config: FinetuneConfig,
    model_path: Path,
    datasets: Any,
    out: Path,
    *,
    resume: bool = False,
    progress: Progress | None = None,
) -> TrainingResult:
    """Fit a LoRA adapter on ``datasets["train"]`` and save it (PEFT format, with the tokenizer
    and its chat template) into ``out``; ``datasets["heldout"]`` gives a held-out loss."""
    torch, transformers, peft, trl = import_training()
    train_options = config.train
    if train_options.threads is not None:
        torch.set_num_threads(train_options.threads)
    n_train = len(datasets["train"])
    if n_train == 0:
        raise ConfigError("no training example", hint="check [data] diseases and per_disease")
    tokenizer, model = load_base(config, model_path)
    lora = config.lora
    lora_config = peft.LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        modules_to_save=["embed_tokens", "lm_head"] if lora.train_embeddings else None,
        task_type="CAUSAL_LM",
    )
    steps = train_options.max_steps or math.ceil(
        math.ceil(n_train / train_options.batch_size)
        * train_options.epochs
        / train_options.gradient_accumulation
    )
    cuda = torch.device(config.base.device).type == "cuda"
    args = trl.SFTConfig(
        output_dir=str(out / CHECKPOINTS),
        per_device_train_batch_size=train_options.batch_size,
        per_device_eval_batch_size=train_options.batch_size,
        gradient_accumulation_steps=train_options.gradient_accumulation,
        learning_rate=train_options.learning_rate,
        num_train_epochs=train_options.epochs,
        max_steps=train_options.max_steps or -1,
        warmup_steps=math.ceil(steps * train_options.warmup_ratio),
        weight_decay=train_options.weight_decay,
        lr_scheduler_type="linear",
        max_length=train_options.max_length,
        completion_only_loss=train_options.completion_only_loss,
        logging_steps=train_options.logging_steps,
        save_steps=train_options.save_steps,
        save_total_limit=2,
        seed=config.train_seed,
        data_seed=config.train_seed,
        report_to="none",
        use_cpu=not cuda,
        bf16=cuda and config.base.dtype == "bfloat16",
        fp16=cuda and config.base.dtype == "float16",
        disable_tqdm=True,  # the CLI shows its own progress bar
        dataloader_num_workers=0,
        eval_strategy="no",
    )
    log: list[dict[str, float]] = []
    trainer = trl.SFTTrainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["heldout"] if len(datasets["heldout"]) else None,
        processing_class=tokenizer,
        peft_config=lora_config,
        callbacks=[_callback(transformers, progress, log)],
    )
    trainer.remove_callback(transformers.PrinterCallback)  # logs go to metrics.json
    resumed_from = _last_checkpoint(out / CHECKPOINTS) if resume else None
    if resume and resumed_from is None:
        raise ConfigError(
            f"nothing to resume: no checkpoint under {out / CHECKPOINTS}",
            hint="run without --resume",
        )
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=resumed_from)
    seconds = time.perf_counter() - started
    heldout_loss = None
    if trainer.eval_dataset is not None:
        heldout_loss = float(trainer.evaluate()["eval_loss"])
    trainer.save_model(str(out))  # the adapter (PEFT format)
    tokenizer.save_pretrained(str(out))  # with the chat template (chat_template.jinja)
    trainable, total = trainer.model.get_nb_trainable_parameters()
    return TrainingResult(
        adapter_dir=out,
        steps=int(trainer.state.global_step),
        epochs=float(trainer.state.epoch or 0.0),
        seconds=seconds,
        train_loss=_rounded(output.training_loss),
        heldout_loss=_rounded(heldout_loss),
        trainable_parameters=int(trainable),
        total_parameters=int(total),
        resumed_from=resumed_from,
        log=log,
    )


def _dequantized(model: Any) -> None:
    """A GGUF model is dequantized to float weights on load but still marked as quantized
    (GGUF), which the trainer refuses to fine-tune: drop the marks."""
    model.hf_quantizer = None
    model.is_quantized = False
    for config in (model.config, getattr(model.config, "text_config", None)):
        if config is not None and hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")


def _callback(transformers: Any, progress: Progress | None, log: list[dict[str, float]]) -> Any:
    class _Report(transformers.TrainerCallback):
        """Steps to the progress bar, losses to the metrics."""

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if progress is not None:
                progress("train", int(state.global_step), int(state.max_steps) or None)

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            if logs and "loss" in logs:
                entry = {"step": float(state.global_step), "loss": float(logs["loss"])}
                if "learning_rate" in logs:
                    entry["learning_rate"] = float(logs["learning_rate"])
                log.append(entry)

    return _Report()


def _last_checkpoint(directory: Path) -> str | None:
    if not directory.is_dir():
        return None
    found = [p for p in directory.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]
    if not found:
        return None
    return str(max(found, key=lambda p: int(p.name.split("-")[-1])))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 5)
