"""Optional second opinion: presidio-analyzer's pattern recognizers, offline.

presidio's default ``AnalyzerEngine()`` downloads a spaCy model; here it runs on a
``NoOpNlpEngine`` with only self-contained pattern recognizers, and its e-mail check uses
tldextract's bundled public-suffix snapshot instead of fetching the list. The import (spaCy,
~250 MB installed) happens only when a :class:`PresidioPatterns` is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ocais.errors import ConfigError
from ocais.ingest.deid.models import Candidate, PhiKind
from ocais.ingest.deid.recognizers import PRIORITY_GENERIC

_ENTITY_KINDS: Mapping[str, PhiKind] = MappingProxyType(
    {
        "EMAIL_ADDRESS": PhiKind.EMAIL,
        "PHONE_NUMBER": PhiKind.PHONE,
        "CREDIT_CARD": PhiKind.ID,
        "IP_ADDRESS": PhiKind.IP,
        "URL": PhiKind.URL,
        "US_SSN": PhiKind.ID,
        "DATE_TIME": PhiKind.DATE,
    }
)
# presidio's own cut-offs are tuned for precision; de-identification wants recall
_MIN_SCORE = 0.3


class PresidioPatterns:
    """presidio-analyzer pattern recognizers as one more source of candidates."""

    def __init__(self) -> None:
        try:
            import tldextract
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_analyzer.nlp_engine import NoOpNlpEngine
            from presidio_analyzer.predefined_recognizers import (
                CreditCardRecognizer,
                DateRecognizer,
                EmailRecognizer,
                IpRecognizer,
                PhoneRecognizer,
                UrlRecognizer,
                UsSsnRecognizer,
            )
        except ImportError:
            raise ConfigError(
                "use_presidio needs presidio-analyzer",
                hint="pip install 'ocais[deid-presidio]', or set use_presidio=False",
            ) from None

        # the bundled public-suffix snapshot; no network, no cache directory
        extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

        class OfflineEmailRecognizer(EmailRecognizer):
            def validate_result(self, pattern_text: str) -> bool:
                return bool(extractor(pattern_text).fqdn)

        nlp_engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        nlp_engine.load()
        registry = RecognizerRegistry(supported_languages=["en"])
        for recognizer in (
            OfflineEmailRecognizer(),
            PhoneRecognizer(),
            CreditCardRecognizer(),
            IpRecognizer(),
            UrlRecognizer(),
            UsSsnRecognizer(),
            DateRecognizer(),
        ):
            registry.add_recognizer(recognizer)
        self._engine: Any = AnalyzerEngine(
            registry=registry, nlp_engine=nlp_engine, supported_languages=["en"]
        )

    def find(self, text: str) -> list[Candidate]:
        results = self._engine.analyze(
            text=text, language="en", entities=list(_ENTITY_KINDS), score_threshold=_MIN_SCORE
        )
        return [
            Candidate(_ENTITY_KINDS[r.entity_type], r.start, r.end, None, PRIORITY_GENERIC)
            for r in results
            if r.entity_type in _ENTITY_KINDS
        ]
