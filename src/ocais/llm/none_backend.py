"""``none``: LLM features off. Every call raises :class:`LLMUnavailableError` with what to
configure; the service answers with the ranker and template texts (explanations, letters)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from ocais.errors import LLMUnavailableError
from ocais.llm.base import Capabilities, ChatMessage, Completion

MESSAGE = "no LLM is configured: LLM features are off"
HINT = (
    "set OCAIS_LLM_URL to an OpenAI-compatible server (e.g. `ocais llm serve` on "
    "http://127.0.0.1:8080/v1), or OCAIS_LLM_BACKEND=llamacpp|transformers with OCAIS_LLM_MODEL"
)


class NoLLM:
    name: ClassVar[str] = "none"

    def __init__(self, **_ignored: Any) -> None:
        pass

    @property
    def model(self) -> str:
        return ""

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=False, stream=False, local=True)

    def complete(self, messages: Sequence[ChatMessage], **_options: Any) -> Completion:
        raise LLMUnavailableError(MESSAGE, hint=HINT)

    def stream(self, messages: Sequence[ChatMessage], **_options: Any) -> Iterator[str]:
        raise LLMUnavailableError(MESSAGE, hint=HINT)

    def close(self) -> None:
        pass
