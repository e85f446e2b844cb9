"""The ``LLMBackend`` extension point: one interface for a 270M model on a laptop CPU and a 70B
model behind a GPU server.

A backend turns chat messages into a :class:`Completion` (``complete``) or a stream of text
pieces (``stream``) and says what it can do (:class:`Capabilities`: constrained JSON output,
streaming, whether it runs locally). Backends are registered under the entry-point group
``ocais.llm_backends`` (``openai``, ``llamacpp``, ``transformers``, ``none``) and built by
:func:`create_backend`; every call may be counted with :class:`MeteredBackend` (calls, failures,
latency, tokens), which the benchmark reports.

Failures are :class:`~ocais.errors.LLMError` (``LLMUnavailableError`` when no model can be
reached or loaded, ``LLMOutputError`` when it answered with something unusable): callers that
can answer without the LLM do so and report what failed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from ocais.errors import ConfigError, LLMError, LLMOutputError
from ocais.plugins import choose, registered

ENTRY_POINT_GROUP = "ocais.llm_backends"
Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do."""

    json_schema: bool = False  # output constrained to a JSON schema (grammar / guided decoding)
    stream: bool = True
    local: bool = False  # the model runs on this machine (no text leaves it)


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    seconds: float = 0.0
    finish_reason: str | None = None


@runtime_checkable
class LLMBackend(Protocol):
    """Chat completion with an open model. ``name`` is what ``OCAIS_LLM_BACKEND`` takes."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str:
        """The model's name as the backend reports it (recorded in provenance)."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
        seed: int | None = 0,
    ) -> Completion:
        """One answer. ``json_schema`` asks for JSON matching it (enforced where the backend
        has the capability, requested in the prompt otherwise)."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int | None = 0,
    ) -> Iterator[str]:
        """The answer as it is generated, piece by piece."""
        ...

    def close(self) -> None: ...


# --- counting calls -----------------------------------------------------------------------------
@dataclass
class CallStats:
    """Calls, failures, latency and tokens of one backend (thread-safe)."""

    model: str = ""
    calls: int = 0
    failures: int = 0
    failure_codes: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(
        self, seconds: float, completion: Completion | None, error: Exception | None
    ) -> None:
        with self._lock:
            self.calls += 1
            self.seconds.append(seconds)
            if completion is not None:
                self.model = completion.model or self.model
                self.prompt_tokens += completion.prompt_tokens or 0
                self.completion_tokens += completion.completion_tokens or 0
            if error is not None:
                self.failures += 1
                code = getattr(error, "code", type(error).__name__)
                self.failure_codes[code] = self.failure_codes.get(code, 0) + 1

    def failed_output(self, error: LLMOutputError) -> None:
        """A call that returned, but whose answer could not be used: a failure too."""
        with self._lock:
            self.failures += 1
            self.failure_codes[error.code] = self.failure_codes.get(error.code, 0) + 1

    def summary(self) -> dict[str, Any]:
        with self._lock:
            ms = np.asarray(self.seconds, dtype=np.float64) * 1000.0
            return {
                "model": self.model,
                "calls": self.calls,
                "failures": self.failures,
                "failure_codes": dict(sorted(self.failure_codes.items())),
                "ms_per_call": {
                    "p50": round(float(np.percentile(ms, 50)), 1) if ms.size else None,
                    "p95": round(float(np.percentile(ms, 95)), 1) if ms.size else None,
                },
                "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            }


class MeteredBackend:
    """A backend whose every call is counted in :attr:`stats` (the benchmark reads them)."""

    def __init__(self, backend: LLMBackend) -> None:
        self.inner = backend
        self.name = backend.name
        self.stats = CallStats(model=backend.model)

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    def complete(self, messages: Sequence[ChatMessage], **options: Any) -> Completion:
        started = time.perf_counter()
        try:
            completion = self.inner.complete(messages, **options)
        except LLMError as exc:
            self.stats.record(time.perf_counter() - started, None, exc)
            raise
        self.stats.record(time.perf_counter() - started, completion, None)
        return completion

    def stream(self, messages: Sequence[ChatMessage], **options: Any) -> Iterator[str]:
        started = time.perf_counter()
        try:
            yield from self.inner.stream(messages, **options)
        except LLMError as exc:
            self.stats.record(time.perf_counter() - started, None, exc)
            raise
        self.stats.record(time.perf_counter() - started, None, None)

    def close(self) -> None:
        self.inner.close()


def metered(backend: LLMBackend) -> MeteredBackend:
    return backend if isinstance(backend, MeteredBackend) else MeteredBackend(backend)


# --- JSON answers ---------------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def parse_json_answer(text: str) -> dict[str, Any]:
    """The JSON object of an answer: the whole text, a fenced block, or the first balanced
    ``{...}`` in it. Raises :class:`LLMOutputError` when there is none (small models often
    wrap or truncate JSON)."""
    stripped = text.strip()
    if not stripped:
        raise LLMOutputError("the LLM returned an empty answer")
    candidates = [stripped, *(m.group(1).strip() for m in _FENCE.finditer(stripped))]
    start = stripped.find("{")
    if start >= 0:
        candidates.append(_balanced(stripped[start:]))
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            value, _end = decoder.raw_decode(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise LLMOutputError(f"the LLM's answer is not a JSON object ({len(stripped)} characters)")


def _balanced(text: str) -> str:
    depth, in_string, escaped = 0, False, False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[: i + 1]
    return text


# --- the registry ---------------------------------------------------------------------------
def available_backends() -> dict[str, Any]:
    """Backend factories by name: ``factory(**options) -> LLMBackend``."""
    return registered(ENTRY_POINT_GROUP)


def create_backend(name: str, **options: Any) -> LLMBackend:
    """Build a registered backend; unknown names and options raise :class:`ConfigError`."""
    factory = choose("LLM backend", name, available_backends())
    try:
        backend: LLMBackend = factory(**options)
    except TypeError as exc:
        raise ConfigError(f"invalid options for LLM backend {name!r}: {exc}") from exc
    return backend
