"""The ``transformers`` backend on a tiny random Llama built here (no hub, no download): prompts,
greedy and seeded sampling, streaming, limits, a LoRA adapter and a GGUF file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch

from ocais.errors import ConfigError, LLMError, LLMUnavailableError
from ocais.llm.base import ChatMessage, LLMBackend
from ocais.llm.chat_format import fold_system, gemma_prompt, json_instruction, with_json_request
from ocais.llm.transformers_backend import TransformersBackend
from tests.finetune.tiny import SPECIALS, tiny_tokenizer

pytestmark = pytest.mark.text

SENTENCES = [
    "The patient has seizures and developmental delay.",
    "Global developmental delay with hypotonia was noted in infancy.",
    "No fever, but recurrent infections and short stature.",
    "Answer with a JSON object listing the phenotype terms.",
    "user model system assistant turn start end of the answer",
]
ASK = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Which phenotypes does the patient have?"),
]


def _tokenizer() -> Any:
    return tiny_tokenizer(SENTENCES * 4, vocab_size=320)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with a byte-level BPE tokenizer and no chat template."""
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = tmp_path_factory.mktemp("llm") / "tiny-llama"
    tokenizer = _tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger weights than the init's: sharper, more varied logits
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0.0, 0.3)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def backend(tiny_model: Path) -> Any:
    loaded = TransformersBackend(str(tiny_model), max_context=256)
    yield loaded
    loaded.close()


# --- prompts --------------------------------------------------------------------------------------
def test_gemma_prompt_folds_the_system_message_and_ends_with_a_model_turn() -> None:
    prompt = gemma_prompt(
        [
            ChatMessage("system", "Be brief."),
            ChatMessage("user", "Hello"),
            ChatMessage("assistant", "Hi."),
            ChatMessage("user", "List the terms."),
        ]
    )
    assert prompt == (
        "<start_of_turn>user\nBe brief.\n\nHello<end_of_turn>\n"
        "<start_of_turn>model\nHi.<end_of_turn>\n"
        "<start_of_turn>user\nList the terms.<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert "system" not in prompt


def test_gemma_prompt_with_only_a_system_message() -> None:
    assert gemma_prompt([ChatMessage("system", "Rules.")]) == (
        "<start_of_turn>user\nRules.<end_of_turn>\n<start_of_turn>model\n"
    )
    assert fold_system([ChatMessage("user", "a")]) == [ChatMessage("user", "a")]


def test_a_json_schema_is_asked_for_in_the_last_user_message() -> None:
    schema = {
        "type": "object",
        "properties": {"terms": {"type": "array"}, "n": {"type": "integer"}},
    }
    messages = with_json_request(ASK, schema)
    assert messages[0] == ASK[0]
    assert messages[-1].content.startswith(ASK[1].content)
    assert '"terms" (array), "n" (integer)' in messages[-1].content
    assert json.dumps({"type": "object"}) not in json_instruction(schema)
    assert '{"type":"object"}' in json_instruction({"type": "object"})


# --- generation -----------------------------------------------------------------------------------
def test_complete_returns_text_token_counts_and_the_model_name(backend: Any) -> None:
    protocol: object = backend
    assert isinstance(protocol, LLMBackend)
    assert backend.name == "transformers"
    assert backend.model == "tiny-llama"
    assert backend.capabilities.local and backend.capabilities.stream
    assert not backend.capabilities.json_schema
    prompt, templated = backend.render(ASK)
    assert not templated and prompt == gemma_prompt(ASK)

    completion = backend.complete(ASK, max_tokens=12)
    assert completion.model == "tiny-llama"
    assert completion.text.strip()
    assert completion.prompt_tokens is not None and completion.prompt_tokens > 10
    assert completion.completion_tokens is not None and 1 <= completion.completion_tokens <= 12
    assert completion.finish_reason in {"stop", "length"}
    assert completion.seconds > 0


def test_greedy_is_deterministic_and_max_tokens_bounds_the_answer(backend: Any) -> None:
    first = backend.complete(ASK, max_tokens=10, temperature=0.0)
    second = backend.complete(ASK, max_tokens=10, temperature=0.0, seed=123)
    assert first.text == second.text
    short = backend.complete(ASK, max_tokens=3)
    assert short.completion_tokens is not None and short.completion_tokens <= 3
    if short.completion_tokens == 3:
        assert short.finish_reason == "length"


def test_sampling_is_reproducible_with_a_seed(backend: Any) -> None:
    state = torch.random.get_rng_state()
    texts = {
        seed: backend.complete(ASK, max_tokens=12, temperature=1.0, seed=seed).text
        for seed in (7, 8, 9)
    }
    again = backend.complete(ASK, max_tokens=12, temperature=1.0, seed=7).text
    assert again == texts[7]
    assert len(set(texts.values())) > 1  # different seeds, different samples
    assert torch.equal(torch.random.get_rng_state(), state)  # torch's global RNG untouched


def test_stream_pieces_join_to_the_greedy_answer(backend: Any) -> None:
    completion = backend.complete(ASK, max_tokens=16)
    pieces = list(backend.stream(ASK, max_tokens=16))
    assert len(pieces) >= 1
    assert "".join(pieces) == completion.text


def test_closing_a_stream_early_stops_it_and_frees_the_backend(backend: Any) -> None:
    pieces = backend.stream(ASK, max_tokens=200)
    assert next(pieces)
    pieces.close()
    assert not backend._lock.locked()
    assert backend.complete(ASK, max_tokens=2).completion_tokens == 2


def test_concurrent_calls_are_serialized(backend: Any) -> None:
    expected = backend.complete(ASK, max_tokens=6).text
    with ThreadPoolExecutor(max_workers=3) as pool:
        texts = list(pool.map(lambda _: backend.complete(ASK, max_tokens=6).text, range(3)))
    assert texts == [expected] * 3


def test_stopping_on_a_stop_token(backend: Any) -> None:
    first = backend.complete(ASK, max_tokens=1)
    prompt, _ = backend.render(ASK)
    encoded = backend._tokenizer(prompt)["input_ids"]
    with torch.no_grad():
        logits = backend._model(torch.tensor([encoded])).logits
    token = int(logits[0, -1].argmax())
    backend._stop_ids.append(token)  # the greedy first token now ends the turn
    try:
        stopped = backend.complete(ASK, max_tokens=8)
    finally:
        backend._stop_ids.remove(token)
    assert stopped.finish_reason == "stop"
    assert stopped.completion_tokens == 1
    assert stopped.text == ""
    assert first.completion_tokens == 1


def test_a_prompt_longer_than_the_context_raises(tiny_model: Path) -> None:
    small = TransformersBackend(str(tiny_model), max_context=16)
    with pytest.raises(LLMError, match=r"prompt of \d+ tokens exceeds the context of 16"):
        small.complete(ASK)
    with pytest.raises(LLMError, match="exceeds the context"):
        list(small.stream(ASK))
    small.close()
    with pytest.raises(LLMUnavailableError, match="closed"):
        small.complete(ASK)


def test_the_chat_template_is_used_when_the_tokenizer_has_one(
    tiny_model: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    directory = tmp_path / "templated"
    shutil.copytree(tiny_model, directory)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n"
        "{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"
    )
    tokenizer.save_pretrained(directory)
    templated = TransformersBackend(str(directory))
    prompt, used = templated.render(ASK)
    assert used
    assert prompt == "<bos>[system] You are terse.\n[user] " + ASK[1].content + "\n[assistant] "
    completion = templated.complete(ASK, max_tokens=4)
    assert completion.prompt_tokens == len(
        templated._tokenizer(prompt, add_special_tokens=False)["input_ids"]
    )
    templated.close()


# --- configuration errors -------------------------------------------------------------------------
def test_a_missing_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        TransformersBackend(str(tmp_path / "nowhere"))
    assert info.value.hint and "OCAIS_LLM_MODEL" in info.value.hint
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"not a \.gguf file"):
        TransformersBackend(str(tmp_path / "model.bin"))
    with pytest.raises(ConfigError, match=r"no config\.json"):
        TransformersBackend(str(tmp_path))


def test_a_missing_adapter_is_a_config_error(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="adapter"):
        TransformersBackend(str(tiny_model), adapter=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"adapter_config\.json"):
        TransformersBackend(str(tiny_model), adapter=str(tmp_path))


def test_missing_packages_are_reported_with_the_install_hint(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "adapter_config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft -> ImportError
    with pytest.raises(LLMUnavailableError, match="peft") as info:
        TransformersBackend(str(tiny_model), adapter=str(tmp_path))
    assert info.value.hint == "pip install 'ocais[llm-local]'"
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(LLMUnavailableError, match="transformers") as info:
        TransformersBackend(str(tiny_model))
    assert info.value.hint == "pip install 'ocais[llm-local]'"


def test_the_module_imports_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "import ocais.llm.transformers_backend as m\n"
        "print(m.gemma_prompt([]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "<start_of_turn>model\n\n"


# --- a LoRA adapter -------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing:FutureWarning")
def test_a_lora_adapter_changes_the_model(backend: Any, tiny_model: Path, tmp_path: Path) -> None:
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model, local_files_only=True)
    config = peft.LoraConfig(
        r=4,
        lora_alpha=16,
        target_modules=["q_proj", "v_proj", "down_proj"],
        init_lora_weights=False,  # random A and B: the adapter is not a no-op
        task_type="CAUSAL_LM",
    )
    adapted = peft.get_peft_model(base, config)
    directory = tmp_path / "tiny-lora"
    adapted.save_pretrained(directory)

    tuned = TransformersBackend(str(tiny_model), adapter=str(directory))
    assert tuned.model == "tiny-llama+tiny-lora"
    prompt, _ = tuned.render(ASK)
    ids = torch.tensor([tuned._tokenizer(prompt)["input_ids"]])
    with torch.no_grad():
        base_logits = backend._model(ids).logits
        tuned_logits = tuned._model(ids).logits
    assert not torch.allclose(base_logits, tuned_logits, atol=1e-3)
    completion = tuned.complete(ASK, max_tokens=8)
    assert completion.model == "tiny-llama+tiny-lora"
    assert completion.completion_tokens is not None and completion.completion_tokens >= 1
    tuned.close()


# --- a GGUF file ----------------------------------------------------------------------------------
def _permute(weights: Any, heads: int) -> Any:
    """llama.cpp's rotary layout for q/k rows (the loader undoes it)."""
    return (
        weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _write_gguf(directory: Path, target: Path) -> None:
    """The tiny model as a float32 GGUF, written the way llama.cpp's converter would."""
    gguf = pytest.importorskip("gguf")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True)
    tokenizer = json.loads((directory / "tokenizer.json").read_text())
    config = model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    writer = gguf.GGUFWriter(str(target), "llama")
    writer.add_name("tiny-llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(config.hidden_size // heads)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    vocab = tokenizer["model"]["vocab"]
    tokens = sorted(vocab, key=vocab.__getitem__)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(
        [gguf.TokenType.CONTROL if t in SPECIALS else gguf.TokenType.NORMAL for t in tokens]
    )
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab["<bos>"])
    writer.add_eos_token_id(vocab["<eos>"])
    writer.add_unk_token_id(vocab["<unk>"])
    writer.add_pad_token_id(vocab["<pad>"])
    writer.add_add_bos_token(True)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        stem, suffix = name.rsplit(".", 1)
        gguf_name = names.get_name(stem)
        assert gguf_name is not None, name
        array = tensor.detach().float().numpy()
        if stem.endswith("q_proj"):
            array = _permute(array, heads)
        elif stem.endswith("k_proj"):
            array = _permute(array, kv_heads)
        writer.add_tensor(f"{gguf_name}.{suffix}", array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_a_gguf_file_loads_and_answers_like_the_directory(
    backend: Any, tiny_model: Path, tmp_path: Path
) -> None:
    pytest.importorskip("gguf")
    target = tmp_path / "tiny-llama-f32.gguf"
    _write_gguf(tiny_model, target)
    from_gguf = TransformersBackend(str(target))
    assert from_gguf.model == "tiny-llama-f32"
    prompt, templated = from_gguf.render(ASK)
    assert not templated  # no chat template in the file: Gemma's turns
    assert from_gguf._tokenizer(prompt)["input_ids"] == backend._tokenizer(prompt)["input_ids"]
    expected = backend.complete(ASK, max_tokens=10)
    got = from_gguf.complete(ASK, max_tokens=10)
    assert got.text == expected.text
    assert got.prompt_tokens == expected.prompt_tokens
    from_gguf.close()
