"""The LLM layer without a real model: JSON answers, call counting, the registry, the ``none``
backend, the ``openai`` backend against recorded server answers and against ``ocais llm
serve``'s own app (over a scripted backend)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ocais.errors import ConfigError, LLMError, LLMOutputError, LLMUnavailableError
from ocais.llm.base import (
    ChatMessage,
    available_backends,
    create_backend,
    metered,
    parse_json_answer,
)
from ocais.llm.chat_format import gemma_prompt, render_chat
from ocais.llm.none_backend import NoLLM
from ocais.llm.openai_backend import OpenAIBackend
from ocais.llm.server import create_llm_app
from tests.llm.fakes import ScriptedLLM

ASK = [ChatMessage("system", "Be brief."), ChatMessage("user", "Name a disease.")]


# --- JSON answers --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        '{"ranking": [2, 1]}',
        'Sure! ```json\n{"ranking": [2, 1]}\n``` Hope this helps.',
        'The answer is {"ranking": [2, 1]} and that is all, {"other": 1}',
        '  \n{"ranking": [2, 1]}  trailing words',
    ],
)
def test_parse_json_answer_finds_the_object(text: str) -> None:
    assert parse_json_answer(text)["ranking"] == [2, 1]


@pytest.mark.parametrize("text", ["", "   ", "no json here", "[1, 2, 3]", '{"ranking": [1, 2'])
def test_parse_json_answer_rejects_what_is_not_an_object(text: str) -> None:
    with pytest.raises(LLMOutputError):
        parse_json_answer(text)


def test_json_with_braces_inside_strings() -> None:
    assert parse_json_answer('x {"a": "}{", "b": 1} y') == {"a": "}{", "b": 1}


# --- counting, registry, none -------------------------------------------------------------------
def test_metered_backend_counts_calls_failures_and_tokens() -> None:
    scripted = ScriptedLLM(answer=lambda _p: "hello")
    llm = metered(scripted)
    assert metered(llm) is llm
    llm.complete(ASK)
    llm.complete(ASK)
    scripted.fail = LLMUnavailableError("down")
    with pytest.raises(LLMUnavailableError):
        llm.complete(ASK)
    stats = llm.stats.summary()
    assert stats["calls"] == 3 and stats["failures"] == 1
    assert stats["failure_codes"] == {"llm_unavailable": 1}
    assert stats["model"] == "scripted-1"
    assert stats["tokens"]["prompt"] > 0 and stats["tokens"]["completion"] > 0
    assert stats["ms_per_call"]["p50"] is not None and stats["ms_per_call"]["p95"] is not None


def test_registry_lists_the_backends_and_rejects_unknown_ones() -> None:
    assert {"openai", "llamacpp", "transformers", "none"} <= set(available_backends())
    with pytest.raises(ConfigError, match="openai"):
        create_backend("nope")
    with pytest.raises(ConfigError, match="invalid options"):
        create_backend("openai", base_url="http://127.0.0.1:9/v1", no_such_option=1)


def test_none_backend_says_what_to_configure() -> None:
    with pytest.raises(LLMUnavailableError) as caught:
        NoLLM().complete(ASK)
    assert "OCAIS_LLM_URL" in str(caught.value)


def test_gemma_prompt_and_templates() -> None:
    prompt = gemma_prompt(ASK)
    assert prompt.startswith("<start_of_turn>user\nBe brief.\n\nName a disease.<end_of_turn>")
    assert prompt.endswith("<start_of_turn>model\n")
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
    assert render_chat(ASK, template) == "<system>Be brief.<user>Name a disease.<assistant>"


# --- the openai backend against recorded answers ------------------------------------------------
def recorded_server(requests: list[dict[str, Any]], *, status: int = 200) -> httpx.Client:
    """An httpx client whose server answers like llama.cpp / vLLM (answers recorded from
    ``ocais llm serve``), recording each request."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        requests.append({"path": request.url.path, "body": body, "headers": dict(request.headers)})
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "boom"}})
        if request.url.path.endswith("/models"):
            return httpx.Response(
                200,
                json={
                    "object": "list",
                    "data": [
                        {
                            "id": "gemma-3-270m-q4_k_m",
                            "object": "model",
                            "created": 0,
                            "owned_by": "ocais",
                        }
                    ],
                },
            )
        if body.get("stream"):
            chunks = [
                {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": "m",
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                for piece in ("Marfan", " syndrome")
            ]
            text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})
        return httpx.Response(
            200,
            json={
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": "gemma-3-270m-q4_k_m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": '{"ranking": [1]}'},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
            },
        )

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_openai_backend_completes_and_discovers_the_model() -> None:
    requests: list[dict[str, Any]] = []
    llm = OpenAIBackend("http://llm.test/v1", http_client=recorded_server(requests))
    completion = llm.complete(ASK, json_schema={"type": "object"}, max_tokens=20)
    assert completion.text == '{"ranking": [1]}'
    assert completion.model == "gemma-3-270m-q4_k_m"
    assert (completion.prompt_tokens, completion.completion_tokens) == (42, 7)
    assert [r["path"] for r in requests] == ["/v1/models", "/v1/chat/completions"]
    sent = requests[1]["body"]
    assert sent["model"] == "gemma-3-270m-q4_k_m" and sent["max_tokens"] == 20
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}


def test_openai_backend_streams() -> None:
    llm = OpenAIBackend("http://llm.test/v1", model="m", http_client=recorded_server([]))
    assert "".join(llm.stream(ASK)) == "Marfan syndrome"


def test_openai_backend_sends_the_key_from_the_named_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SITE_LLM_KEY", "s3cret")
    requests: list[dict[str, Any]] = []
    llm = OpenAIBackend(
        "http://llm.test/v1",
        model="m",
        api_key_env="SITE_LLM_KEY",
        http_client=recorded_server(requests),
    )
    llm.complete(ASK)
    assert requests[0]["headers"]["authorization"] == "Bearer s3cret"
    monkeypatch.delenv("SITE_LLM_KEY")
    with pytest.raises(ConfigError, match="SITE_LLM_KEY"):
        OpenAIBackend("http://llm.test/v1", api_key_env="SITE_LLM_KEY")


def test_openai_backend_errors_are_llm_errors() -> None:
    with pytest.raises(ConfigError, match="http"):
        OpenAIBackend("llm.test/v1")
    failing = OpenAIBackend(
        "http://llm.test/v1",
        model="m",
        max_retries=0,
        http_client=recorded_server([], status=500),
    )
    with pytest.raises(LLMError, match="HTTP 500"):
        failing.complete(ASK)
    missing = OpenAIBackend(
        "http://llm.test/v1",
        model="nope",
        max_retries=0,
        http_client=recorded_server([], status=404),
    )
    with pytest.raises(LLMUnavailableError, match="OCAIS_LLM_MODEL"):
        missing.complete(ASK)
    down = OpenAIBackend("http://127.0.0.1:9/v1", model="m", max_retries=0, timeout=2)
    with pytest.raises(LLMUnavailableError, match="cannot be reached"):
        down.complete(ASK)


def test_openai_backend_retries_server_errors() -> None:
    requests: list[dict[str, Any]] = []
    llm = OpenAIBackend(
        "http://llm.test/v1",
        model="m",
        max_retries=2,
        http_client=recorded_server(requests, status=503),
    )
    with pytest.raises(LLMError):
        llm.complete(ASK)
    assert len(requests) == 3  # the first try and two retries (with backoff)


# --- ocais llm serve's app, talked to by the openai backend ------------------------------------
@pytest.fixture
def served() -> tuple[TestClient, ScriptedLLM]:
    scripted = ScriptedLLM(answer=lambda prompt: f"echo {len(prompt)}")
    return TestClient(create_llm_app(scripted)), scripted


def test_llm_app_lists_its_model_and_completes(served: tuple[TestClient, ScriptedLLM]) -> None:
    client, scripted = served
    assert client.get("/v1/models").json()["data"][0]["id"] == "scripted-1"
    llm = OpenAIBackend("http://testserver/v1", http_client=client)
    completion = llm.complete(ASK, json_schema={"type": "object", "properties": {}})
    assert completion.text.startswith("echo ")
    assert completion.model == "scripted-1"
    assert completion.prompt_tokens and completion.completion_tokens
    assert scripted.schemas[-1] == {"type": "object", "properties": {}}
    assert "".join(llm.stream(ASK)) == completion.text


def test_llm_app_rejects_bad_requests(served: tuple[TestClient, ScriptedLLM]) -> None:
    client, scripted = served
    assert client.post("/v1/chat/completions", content=b"not json").status_code == 400
    assert client.post("/v1/chat/completions", json={"messages": []}).status_code == 400
    wrong = client.post(
        "/v1/chat/completions",
        json={"model": "other", "messages": [{"role": "user", "content": "x"}]},
    )
    assert wrong.status_code == 404 and "not served" in wrong.json()["error"]["message"]
    scripted.fail = LLMError("model crashed")
    failed = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
    )
    assert failed.status_code == 500 and failed.json()["error"]["message"] == "model crashed"
