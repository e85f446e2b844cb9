"""An OpenAI-compatible HTTP server for a local model: what ``ocais llm serve`` runs.

``GET /v1/models``, ``POST /v1/chat/completions`` (streaming as server-sent events, JSON-schema
``response_format`` enforced by the backend's grammar) and ``GET /health``, over any in-process
:class:`~ocais.llm.base.LLMBackend` (``llamacpp`` by default). The service and the benchmark then
talk to it with the ``openai`` backend exactly as they would to vLLM or Ollama. Requests are
answered one at a time (one model context); prompts and answers are never logged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocais import __version__
from ocais.errors import LLMError
from ocais.llm.base import ChatMessage, LLMBackend


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str


class _ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send many optional fields
    model: str | None = None
    messages: list[_Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int | None = None
    stream: bool = False
    response_format: dict[str, Any] | None = None


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": None}}, status_code=status
    )


def _schema(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema a request's ``response_format`` asks for (``json_object``: any object)."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema")
        return dict(schema) if isinstance(schema, dict) else {"type": "object"}
    if kind == "json_object":
        return {"type": "object"}
    return None


def create_llm_app(backend: LLMBackend, *, default_max_tokens: int = 512) -> FastAPI:
    """The OpenAI-compatible app serving ``backend``."""
    app = FastAPI(title="OCAIS local LLM", version=__version__, docs_url=None, redoc_url=None)
    created = int(time.time())

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": backend.model}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": backend.model, "object": "model", "created": created, "owned_by": "ocais"}
            ],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> JSONResponse | StreamingResponse:
        try:
            body = _ChatRequest.model_validate(await request.json())
        except ValidationError as exc:
            return _error(400, "; ".join(e["msg"] for e in exc.errors()[:3]))
        except ValueError:
            return _error(400, "the request body is not JSON")
        if body.model not in (None, "", backend.model):
            return _error(404, f"model {body.model!r} is not served here", "not_found_error")
        messages = [ChatMessage(m.role, m.content) for m in body.messages]
        max_tokens = body.max_completion_tokens or body.max_tokens or default_max_tokens
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        if body.stream:
            return StreamingResponse(
                _events(backend, messages, max_tokens, body, ident, created),
                media_type="text/event-stream",
            )
        return await _complete(backend, messages, max_tokens, body, ident)

    return app


async def _complete(
    backend: LLMBackend,
    messages: list[ChatMessage],
    max_tokens: int,
    body: _ChatRequest,
    ident: str,
) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    try:
        completion = await run_in_threadpool(
            backend.complete,
            messages,
            max_tokens=max_tokens,
            temperature=body.temperature,
            json_schema=_schema(body.response_format),
            seed=body.seed if body.seed is not None else 0,
        )
    except LLMError as exc:
        return _error(500, exc.message, "server_error")
    prompt, answer = completion.prompt_tokens or 0, completion.completion_tokens or 0
    return JSONResponse(
        {
            "id": ident,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": completion.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": completion.text},
                    "finish_reason": completion.finish_reason or "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": answer,
                "total_tokens": prompt + answer,
            },
        }
    )


def _events(
    backend: LLMBackend,
    messages: list[ChatMessage],
    max_tokens: int,
    body: _ChatRequest,
    ident: str,
    created: int,
) -> Iterator[str]:
    """Server-sent events of a streamed answer, OpenAI's chunk format, ending with [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None) -> str:
        payload = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": backend.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, None)
    try:
        for piece in backend.stream(
            messages,
            max_tokens=max_tokens,
            temperature=body.temperature,
            seed=body.seed if body.seed is not None else 0,
        ):
            yield chunk({"content": piece}, None)
    except LLMError as exc:
        error = {"error": {"message": exc.message, "type": "server_error", "code": None}}
        yield f"data: {json.dumps(error)}\n\n"
        return
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"
