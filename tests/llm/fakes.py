"""A scripted LLM backend for unit tests: answers are chosen by a function of the prompt, every
call is recorded, and failures can be injected. (Real models are exercised by
``tests/llm/test_gemma_integration.py`` against ``ocais llm serve``.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ocais.llm.base import Capabilities, ChatMessage, Completion

Answer = Callable[[str], str]


def rank_answer(ranking: Sequence[int], other: Sequence[str] = (), explanation: str = "") -> str:
    return json.dumps(
        {
            "ranking": list(ranking),
            "other": list(other),
            "explanation": explanation or "The first candidate matches most findings.",
        }
    )


@dataclass
class ScriptedLLM:
    """Answers ``answer(prompt_text)``; raises ``fail`` (an exception) when set."""

    answer: Answer = field(default=lambda _prompt: rank_answer([1]))
    model_name: str = "scripted-1"
    fail: Exception | None = None
    json_schema: bool = True
    prompts: list[str] = field(default_factory=list)
    schemas: list[Mapping[str, Any] | None] = field(default_factory=list)
    name: ClassVar[str] = "scripted"

    @property
    def model(self) -> str:
        return self.model_name

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=self.json_schema, stream=True, local=True)

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
        seed: int | None = 0,
    ) -> Completion:
        prompt = "\n".join(f"[{m.role}] {m.content}" for m in messages)
        self.prompts.append(prompt)
        self.schemas.append(json_schema)
        if self.fail is not None:
            raise self.fail
        text = self.answer(prompt)
        return Completion(text, self.model_name, len(prompt) // 4, len(text) // 4, 0.001, "stop")

    def stream(self, messages: Sequence[ChatMessage], **options: Any) -> Iterator[str]:
        text = self.complete(messages, **options).text
        for start in range(0, len(text), 7):
            yield text[start : start + 7]

    def close(self) -> None:
        pass
