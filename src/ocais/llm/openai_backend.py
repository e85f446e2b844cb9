"""``openai``: any OpenAI-compatible chat server — vLLM, Ollama, llama.cpp's server, or
``ocais llm serve`` — through the ``openai`` SDK (timeouts, retries with exponential backoff,
streaming).

Text goes only to ``base_url``, the server the site configured (``OCAIS_LLM_URL``). The API key
is read from the environment variable named by ``api_key_env`` (``OCAIS_LLM_API_KEY_ENV``), never
stored; local servers usually need none.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

from ocais.errors import ConfigError, LLMError, LLMOutputError, LLMUnavailableError
from ocais.llm.base import Capabilities, ChatMessage, Completion

#: what the SDK wants as a key when the server needs none
NO_KEY = "not-needed"


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server."""

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key_env: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        json_schema: bool = True,
        http_client: Any = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"OCAIS_LLM_URL must be an http(s) URL: {base_url!r}",
                hint="e.g. http://127.0.0.1:8080/v1 (`ocais llm serve`, vLLM, Ollama, llama.cpp)",
            )
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise LLMUnavailableError("the openai package is not installed") from exc
        key = NO_KEY
        if api_key_env:
            key = os.environ.get(api_key_env, "")
            if not key:
                raise ConfigError(
                    f"environment variable {api_key_env} (OCAIS_LLM_API_KEY_ENV) is not set",
                    hint="export the LLM server's API key in it, or unset OCAIS_LLM_API_KEY_ENV",
                )
        self.base_url = base_url.rstrip("/")
        self._model = model
        self._json_schema = json_schema
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=key,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )

    @property
    def model(self) -> str:
        """The configured model, else the first the server lists (asked once)."""
        if self._model is None:
            try:
                models = self._client.models.list()
                first = next(iter(models.data), None)
            except self._openai.OpenAIError as exc:
                raise self._error(exc) from exc
            if first is None:
                raise LLMUnavailableError(
                    f"the LLM server at {self.base_url} lists no model",
                    hint="set OCAIS_LLM_MODEL to the model it serves",
                )
            self._model = str(first.id)
        return self._model

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=self._json_schema, stream=True, local=False)

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        json_schema: Mapping[str, Any] | None = None,
        seed: int | None = 0,
    ) -> Completion:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [m.as_dict() for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if seed is not None:
            request["seed"] = seed
        if json_schema is not None and self._json_schema:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": dict(json_schema)},
            }
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(**request)
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from exc
        if not response.choices:
            raise LLMOutputError("the LLM server returned no choice")
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            model=str(response.model or self.model),
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            seconds=time.perf_counter() - started,
            finish_reason=choice.finish_reason,
        )

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int | None = 0,
    ) -> Iterator[str]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [m.as_dict() for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
        }
        if seed is not None:
            request["seed"] = seed
        try:
            for chunk in self._client.chat.completions.create(**request):
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except self._openai.OpenAIError as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        self._client.close()

    def _error(self, exc: Exception) -> LLMError:
        """One error per kind of failure, naming the server but never the prompt."""
        openai = self._openai
        where = f"the LLM server at {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            return LLMUnavailableError(f"{where} did not answer in time", hint="retry later")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailableError(
                f"{where} cannot be reached",
                hint="start it (`ocais llm serve`) or fix OCAIS_LLM_URL",
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return LLMUnavailableError(
                f"{where} refused the API key",
                hint="check the variable OCAIS_LLM_API_KEY_ENV names",
            )
        if isinstance(exc, openai.NotFoundError):
            return LLMUnavailableError(
                f"{where} does not serve model {self._model!r}",
                hint="set OCAIS_LLM_MODEL to a model it lists on /v1/models",
            )
        if isinstance(exc, openai.APIStatusError):
            return LLMError(f"{where} answered HTTP {exc.status_code}")
        return LLMError(f"{where} failed: {type(exc).__name__}")
