"""Chat messages → the prompt text a local model was trained on.

A model that carries a chat template (in its GGUF metadata or tokenizer) is rendered with it, in
a sandboxed Jinja environment; one without (Gemma 3 270M base) gets Gemma's turn format, with
the system message folded into the first user turn (Gemma has no system role).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ocais.llm.base import ChatMessage

START, END = "<start_of_turn>", "<end_of_turn>"
#: where a local model's answer ends
STOP = (END, "<eos>")


#: Gemma's turn format as a chat template (what :func:`gemma_prompt` writes, after ``<bos>``):
#: set explicitly on a tokenizer that has none, e.g. a Gemma 3 base loaded from GGUF, so that
#: fine-tuning and serving render conversations alike
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set ns = namespace(system='', used=false, users=0) -%}"
    "{%- for m in messages -%}"
    "{%- if m['role'] == 'system' -%}"
    "{%- set ns.system = ns.system ~ ('\n\n' if ns.system else '') ~ (m['content'] | trim) -%}"
    "{%- elif m['role'] == 'user' -%}{%- set ns.users = ns.users + 1 -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if ns.system and ns.users == 0 -%}"
    "{{ '<start_of_turn>user\n' ~ ns.system ~ '<end_of_turn>\n' }}"
    "{%- endif -%}"
    "{%- for m in messages if m['role'] != 'system' -%}"
    "{%- set text = m['content'] | trim -%}"
    "{%- if m['role'] == 'user' and ns.system and not ns.used -%}"
    "{%- set text = ns.system ~ '\n\n' ~ text -%}{%- set ns.used = true -%}"
    "{%- endif -%}"
    "{{ '<start_of_turn>' ~ ('model' if m['role'] == 'assistant' else 'user') ~ '\n' ~ text"
    " ~ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)


def fold_system(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The messages without ``system`` ones: their text (joined by blank lines) goes in front of
    the first user message, or becomes one when there is none."""
    system = "\n\n".join(m.content.strip() for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    for i, message in enumerate(rest):
        if message.role == "user":
            folded = f"{system}\n\n{message.content.strip()}"
            return [*rest[:i], ChatMessage("user", folded), *rest[i + 1 :]]
    return [ChatMessage("user", system), *rest]


def gemma_prompt(messages: Sequence[ChatMessage]) -> str:
    """The messages in Gemma's turn format, ending with an open model turn::

        <start_of_turn>user
        {system}

        {user}<end_of_turn>
        <start_of_turn>model
        {assistant}<end_of_turn>
        ...
        <start_of_turn>model

    System messages are folded into the first user turn (Gemma has no system role). No ``<bos>``:
    the tokenizer adds it when it encodes the prompt.
    """
    parts = []
    for message in fold_system(messages):
        role = "model" if message.role == "assistant" else "user"
        parts.append(f"{START}{role}\n{message.content.strip()}{END}\n")
    parts.append(f"{START}model\n")
    return "".join(parts)


def json_instruction(schema: Mapping[str, Any]) -> str:
    """A short request for a JSON answer matching ``schema`` (for models without constrained
    decoding)."""
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and properties:
        fields = []
        for key, spec in properties.items():
            kind = spec.get("type") if isinstance(spec, Mapping) else None
            if isinstance(kind, list):
                kind = " or ".join(str(k) for k in kind)
            fields.append(f'"{key}" ({kind})' if kind else f'"{key}"')
        return (
            "Answer with a single JSON object and nothing else, with these keys: "
            + ", ".join(fields)
            + "."
        )
    return "Answer with a single JSON object and nothing else, matching this JSON schema: " + (
        json.dumps(dict(schema), separators=(",", ":"))
    )


def with_json_request(
    messages: Sequence[ChatMessage], schema: Mapping[str, Any]
) -> list[ChatMessage]:
    """The messages with :func:`json_instruction` appended to the last user message."""
    instruction = json_instruction(schema)
    result = list(messages)
    for i in range(len(result) - 1, -1, -1):
        if result[i].role == "user":
            result[i] = ChatMessage("user", f"{result[i].content.rstrip()}\n\n{instruction}")
            return result
    result.append(ChatMessage("user", instruction))
    return result


def render_chat(messages: Sequence[ChatMessage], template: str | None = None) -> str:
    """The prompt for ``messages``: the model's own chat template when it has one."""
    if not template:
        return gemma_prompt(messages)
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return environment.from_string(template).render(
        messages=[m.as_dict() for m in messages],
        add_generation_prompt=True,
        bos_token="",  # llama.cpp / the tokenizer adds it
        eos_token="",
    )
