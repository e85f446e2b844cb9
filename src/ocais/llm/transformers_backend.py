"""``transformers``: a local open model run in this process with Hugging Face transformers,
optionally with a PEFT (LoRA) adapter on top.

``model`` is a local model directory (``config.json``, weights, tokenizer) or a ``.gguf`` file
(read with the ``gguf`` package, dequantized on load). Nothing is ever fetched from a hub: every
load passes ``local_files_only=True`` and never ``trust_remote_code``. No text leaves the machine.

The prompt is rendered with the tokenizer's chat template; a tokenizer without one (a Gemma 3
base GGUF, for instance) gets Gemma's turn format from :func:`gemma_prompt`. Greedy decoding at
``temperature == 0``; otherwise sampling from a ``torch.Generator`` seeded with ``seed``, so equal
seeds give equal answers without touching torch's global random state. There is no constrained
decoding: a ``json_schema`` is requested in the prompt and the caller parses the answer.

Calls are serialized by a lock (one generation at a time per loaded model). torch, transformers,
peft and gguf are imported only when a backend is built: ``pip install 'ocais[llm-local]'``.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ocais.errors import ConfigError, LLMError, LLMUnavailableError
from ocais.llm.base import Capabilities, ChatMessage, Completion
from ocais.llm.chat_format import END, fold_system, gemma_prompt, with_json_request

INSTALL_HINT = "pip install 'ocais[llm-local]'"
MODEL_HINT = (
    "set OCAIS_LLM_MODEL to a local model directory (config.json, weights, tokenizer) "
    "or to a .gguf file"
)


# --- the backend ----------------------------------------------------------------------------------
class TransformersBackend:
    """A local causal LM (directory or GGUF), optionally with a PEFT adapter, run in-process."""

    name: ClassVar[str] = "transformers"

    def __init__(
        self,
        model: str,
        *,
        adapter: str | None = None,
        device: str = "cpu",
        threads: int | None = None,
        max_context: int = 4096,
    ) -> None:
        path = model_path(model)
        adapter_path = _adapter_path(adapter) if adapter else None
        if max_context < 2:
            raise ConfigError(f"max_context must be at least 2 tokens, not {max_context}")
        if threads is not None and threads < 1:
            raise ConfigError(f"threads must be at least 1, not {threads}")
        torch, transformers = _import_transformers()
        try:
            self._device = torch.device(device)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"invalid torch device {device!r}", hint="e.g. cpu, cuda, cuda:0, mps"
            ) from exc
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise LLMUnavailableError(
                f"device {device!r} was asked for, but torch sees no CUDA GPU",
                hint="use device 'cpu', or install a CUDA build of torch",
            )
        if threads is not None:
            torch.set_num_threads(threads)  # process-wide: torch has no per-model setting

        self._torch = torch
        self._transformers = transformers
        self._lock = threading.Lock()
        self.path = path
        self.adapter_path = adapter_path
        self.max_context = max_context
        # as the llamacpp backend names a GGUF: the file name without .gguf
        base_name = path.name.removesuffix(".gguf") if path.is_file() else path.name
        self._name = base_name + (f"+{adapter_path.name}" if adapter_path else "")
        self._tokenizer, self._model = self._load(path)
        self._adapter_enabled = adapter_path is not None
        if adapter_path is not None:
            self._model = _apply_adapter(self._model, adapter_path)
            template = adapter_path / "chat_template.jinja"
            if template.is_file():  # the template the adapter was trained with
                self._tokenizer.chat_template = template.read_text(encoding="utf-8")
        self._model.eval()
        self._stop_ids = self._stop_token_ids()

    # -- loading -------------------------------------------------------------------------------
    def _load(self, path: Path) -> tuple[Any, Any]:
        dtype: Any = self._torch.float32 if self._device.type == "cpu" else "auto"
        return load_pretrained(path, device=self._device, dtype=dtype)

    def _stop_token_ids(self) -> list[int]:
        """EOS (the tokenizer's and the generation config's) and ``<end_of_turn>`` if known."""
        ids: list[int] = []
        candidates: list[Any] = [
            self._tokenizer.eos_token_id,
            getattr(self._model.generation_config, "eos_token_id", None),
        ]
        vocab = self._tokenizer.get_vocab()
        if END in vocab:
            candidates.append(vocab[END])
        for candidate in candidates:
            for token_id in candidate if isinstance(candidate, list | tuple) else [candidate]:
                if isinstance(token_id, int) and token_id not in ids:
                    ids.append(token_id)
        return ids

    # -- the protocol --------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The model's directory or file name (without ``.gguf``), with ``+<adapter>`` when an
        adapter is applied."""
        if self.adapter_path is not None and not self._adapter_enabled:
            return self._name.rpartition("+")[0]
        return self._name

    @property
    def adapter_enabled(self) -> bool:
        return self._adapter_enabled

    def use_adapter(self, enabled: bool) -> None:
        """Answer with (``True``) or without (``False``) the loaded adapter: the same base
        weights either way, so a before/after comparison needs one load. ``model`` names the
        base alone while the adapter is off."""
        if self.adapter_path is None:
            if enabled:
                raise ConfigError(f"{self.model} was loaded without an adapter")
            return
        with self._lock:
            _tokenizer, model = self._loaded()
            if enabled:
                model.enable_adapter_layers()
            else:
                model.disable_adapter_layers()
            self._adapter_enabled = enabled

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=False, stream=True, local=True)

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
        seed: int | None = 0,
    ) -> Completion:
        if json_schema is not None:
            messages = with_json_request(messages, json_schema)
        with self._lock:
            started = time.perf_counter()
            inputs, prompt_tokens, budget = self._encode(messages, max_tokens)
            options = self._generation_options(budget, temperature, seed)
            try:
                with self._torch.inference_mode():
                    output = self._model.generate(**inputs, **options)
            except (RuntimeError, ValueError, IndexError) as exc:
                raise LLMError(f"generation failed: {type(exc).__name__}: {exc}") from exc
            generated = [int(t) for t in output[0, prompt_tokens:].tolist()]
            stopped = bool(generated) and generated[-1] in self._stop_ids
            kept = [t for t in generated if t not in self._stop_ids]
            text = self._tokenizer.decode(kept, skip_special_tokens=True)
            return Completion(
                text=text,
                model=self.model,
                prompt_tokens=prompt_tokens,
                completion_tokens=len(generated),
                seconds=time.perf_counter() - started,
                finish_reason="stop" if stopped or len(generated) < budget else "length",
            )

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int | None = 0,
    ) -> Iterator[str]:
        """The answer piece by piece, generated in a background thread. The backend stays
        locked until the iterator is exhausted or closed; closing it early stops generation."""
        transformers = self._transformers
        with self._lock:
            inputs, _prompt_tokens, budget = self._encode(messages, max_tokens)
            streamer = transformers.TextIteratorStreamer(
                self._tokenizer, skip_prompt=True, skip_special_tokens=True
            )
            cancelled = threading.Event()
            options = self._generation_options(budget, temperature, seed)
            options["streamer"] = streamer
            options["stopping_criteria"] = transformers.StoppingCriteriaList(
                [_Cancelled(cancelled)]
            )
            failure: list[BaseException] = []

            def generate() -> None:
                try:
                    with self._torch.inference_mode():
                        self._model.generate(**inputs, **options)
                except Exception as exc:  # reported to the reader below
                    failure.append(exc)
                    streamer.end()  # unblock the reader

            worker = threading.Thread(target=generate, name="ocais-llm-generate", daemon=True)
            worker.start()
            try:
                for piece in streamer:
                    if piece:
                        yield piece
            finally:
                cancelled.set()  # the reader stopped early: stop generating too
                worker.join()
            if failure:
                exc = failure[0]
                raise LLMError(f"generation failed: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Free the model (and the GPU memory it held); later calls raise."""
        with self._lock:
            self._model = None
            self._tokenizer = None
            gc.collect()
            if self._device.type == "cuda":
                self._torch.cuda.empty_cache()

    # -- helpers ---------------------------------------------------------------------------------
    def render(self, messages: Sequence[ChatMessage]) -> tuple[str, bool]:
        """The prompt text, and whether it came from the tokenizer's chat template (which then
        writes the special tokens itself, BOS included)."""
        tokenizer = self._loaded()[0]
        if not getattr(tokenizer, "chat_template", None):
            return gemma_prompt(messages), False
        for attempt in (list(messages), fold_system(messages)):
            try:
                prompt = tokenizer.apply_chat_template(
                    [m.as_dict() for m in attempt], tokenize=False, add_generation_prompt=True
                )
            except Exception as exc:  # jinja raises for e.g. a system role it does not take
                error: Exception = exc
                continue
            return str(prompt), True
        raise LLMError(f"the model's chat template failed: {type(error).__name__}: {error}")

    def _loaded(self) -> tuple[Any, Any]:
        if self._model is None or self._tokenizer is None:
            raise LLMUnavailableError(f"the transformers backend for {self.model} is closed")
        return self._tokenizer, self._model

    def _encode(
        self, messages: Sequence[ChatMessage], max_tokens: int
    ) -> tuple[dict[str, Any], int, int]:
        """Model inputs, the prompt's length and how many tokens may be generated."""
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1, not {max_tokens}")
        tokenizer, _model = self._loaded()
        prompt, templated = self.render(messages)
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=not templated)
        prompt_tokens = int(encoded["input_ids"].shape[1])
        if prompt_tokens >= self.max_context:
            raise LLMError(
                f"the prompt of {prompt_tokens} tokens exceeds the context of "
                f"{self.max_context} tokens of {self.model}",
            )
        inputs = {key: value.to(self._device) for key, value in encoded.items()}
        inputs.pop("token_type_ids", None)
        return inputs, prompt_tokens, min(max_tokens, self.max_context - prompt_tokens)

    def _generation_options(
        self, max_new_tokens: int, temperature: float, seed: int | None
    ) -> dict[str, Any]:
        transformers = self._transformers
        if temperature < 0:
            raise ConfigError(f"temperature must be at least 0, not {temperature}")
        config = transformers.GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=False,  # sampling, when asked, is done by _SeededSampler (seeded generator)
            # neutral values, so that the model's sampling defaults are neither applied twice
            # nor reported as ignored
            temperature=1.0,
            top_p=1.0,
            top_k=50,
            eos_token_id=self._stop_ids or None,
            pad_token_id=_pad_id(self._tokenizer, self._stop_ids),
        )
        options: dict[str, Any] = {"generation_config": config}
        if temperature > 0:
            generator = self._torch.Generator(device=self._device)
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(seed)
            defaults = self._model.generation_config
            warpers: list[Any] = [transformers.TemperatureLogitsWarper(temperature)]
            top_k = getattr(defaults, "top_k", None)
            if isinstance(top_k, int) and top_k > 0:
                warpers.append(transformers.TopKLogitsWarper(top_k))
            top_p = getattr(defaults, "top_p", None)
            if isinstance(top_p, float) and 0.0 < top_p < 1.0:
                warpers.append(transformers.TopPLogitsWarper(top_p))
            options["logits_processor"] = transformers.LogitsProcessorList(
                [*warpers, _SeededSampler(self._torch, generator)]
            )
        return options


class _SeededSampler:
    """A logits processor that samples the next token with its own ``torch.Generator`` and
    leaves only that token possible, so that greedy search then picks it."""

    def __init__(self, torch: Any, generator: Any) -> None:
        self._torch = torch
        self._generator = generator

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        torch = self._torch
        probs = torch.softmax(scores.float(), dim=-1)
        choice = torch.multinomial(probs, num_samples=1, generator=self._generator)
        only = torch.full_like(scores, float("-inf"))
        return only.scatter(1, choice, 0.0)


class _Cancelled:
    """A stopping criterion: true once the stream's reader has gone."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def __call__(self, input_ids: Any, scores: Any, **_kwargs: Any) -> Any:
        import torch

        return torch.full(
            (input_ids.shape[0],), self._event.is_set(), dtype=torch.bool, device=input_ids.device
        )


# --- module helpers -------------------------------------------------------------------------------
def load_pretrained(
    path: Path, *, device: Any = "cpu", dtype: Any = None, quantization: Any = None
) -> tuple[Any, Any]:
    """(tokenizer, model) of a local model directory or ``.gguf`` file (dequantized), from local
    files only, moved to ``device`` (left where ``quantization`` puts it). ``dtype`` default:
    float32 on CPU, the checkpoint's own elsewhere."""
    torch, transformers = _import_transformers()
    options: dict[str, Any] = {"local_files_only": True}
    if path.is_file():  # a .gguf file
        if not _has_module("gguf"):
            raise LLMUnavailableError(
                "reading a .gguf model needs the gguf package", hint=INSTALL_HINT
            )
        source, options["gguf_file"] = str(path.parent), path.name
    else:
        source = str(path)
    if dtype is None:
        dtype = torch.float32 if torch.device(device).type == "cpu" else "auto"
    model_options: dict[str, Any] = {"dtype": dtype}
    if quantization is not None:
        model_options.update(quantization_config=quantization, device_map={"": device})
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, **options)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            source, **model_options, **options
        )
        if quantization is None:
            model = model.to(device)
    except ImportError as exc:
        raise LLMUnavailableError(
            f"cannot load the model {path}: {exc}", hint=INSTALL_HINT
        ) from exc
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise LLMUnavailableError(
            f"cannot load the model {path}: {type(exc).__name__}: {exc}", hint=MODEL_HINT
        ) from exc
    return tokenizer, model


def model_path(model: str) -> Path:
    """``model`` as a path, checked: an existing .gguf file or a directory with config.json."""
    if not model:
        raise ConfigError("no model is configured for the transformers backend", hint=MODEL_HINT)
    path = Path(model).expanduser()
    if not path.exists():
        raise ConfigError(f"the model {model!r} does not exist", hint=MODEL_HINT)
    if path.is_file() and path.suffix.lower() != ".gguf":
        raise ConfigError(f"the model file {model!r} is not a .gguf file", hint=MODEL_HINT)
    if path.is_dir() and not (path / "config.json").is_file():
        raise ConfigError(f"the model directory {model!r} has no config.json", hint=MODEL_HINT)
    return path


def _adapter_path(adapter: str) -> Path:
    path = Path(adapter).expanduser()
    hint = "set the adapter to a directory written by PEFT's save_pretrained (adapter_config.json)"
    if not path.is_dir():
        raise ConfigError(f"the adapter {adapter!r} is not a directory", hint=hint)
    if not (path / "adapter_config.json").is_file():
        raise ConfigError(f"the adapter {adapter!r} has no adapter_config.json", hint=hint)
    return path


def _import_transformers() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise LLMUnavailableError(
            f"the transformers backend needs torch and transformers ({exc.name} is missing)",
            hint=INSTALL_HINT,
        ) from exc
    return torch, transformers


def _apply_adapter(model: Any, path: Path) -> Any:
    try:
        from peft import PeftModel
    except ImportError as exc:
        raise LLMUnavailableError(
            "applying a LoRA adapter needs the peft package", hint=INSTALL_HINT
        ) from exc
    try:
        return PeftModel.from_pretrained(model, str(path), is_trainable=False)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise LLMUnavailableError(
            f"cannot apply the adapter {path}: {type(exc).__name__}: {exc}",
            hint="the adapter must have been trained on this base model",
        ) from exc


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _pad_id(tokenizer: Any, stop_ids: list[int]) -> int | None:
    pad = tokenizer.pad_token_id
    if isinstance(pad, int):
        return pad
    return stop_ids[0] if stop_ids else None
