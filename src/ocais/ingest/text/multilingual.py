"""Assertion status in other languages: trigger phrases per language, and clause rules for
Japanese and Chinese (data and small functions).

German, Spanish, French, Italian and Portuguese use the NegEx/ConText machinery of
:mod:`ocais.ingest.text.context` with the phrases below (negation before and after the finding,
relatives, uncertainty, words that end a scope). Japanese and Chinese have no spaces and put
negation after the finding (ja "けいれんなし", "認めない") or before it (zh "无", "否认"); there a
cue applies within its clause (ended by 。；, and by 、，in Japanese, ，in Chinese, where 、 lists
findings: "无发热、癫痫" negates both).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ocais.ingest.text.context import Mention, assert_mentions
from ocais.ingest.text.recognizer import Match
from ocais.ingest.text.rules import ContextRules
from ocais.ingest.text.triggers import CATEGORIES, FAMILY, NEGATED, UNCERTAIN, Trigger

_PHRASES: dict[str, dict[tuple[str, tuple[str, ...]], tuple[str, ...]]] = {
    "de": {
        ("pre", (NEGATED,)): (
            "kein", "keine", "keinen", "keiner", "keinem", "keines", "keinerlei", "nicht",
            "ohne", "kein hinweis auf", "keine hinweise auf", "kein anhalt für", "verneint",
            "negativ für", "frei von", "weder",
        ),
        ("post", (NEGATED,)): (
            "nicht vorhanden", "nicht nachweisbar", "ausgeschlossen", "negativ", "verneint",
            "fehlt", "fehlen", "nicht beobachtet", "nicht festgestellt", "nicht bekannt",
        ),
        ("pre", (FAMILY,)): (
            "mutter", "vater", "bruder", "schwester", "eltern", "geschwister", "onkel", "tante",
            "cousin", "cousine", "großmutter", "großvater", "familienanamnese",
        ),
        ("post", (FAMILY,)): (
            r"bei (?:der|dem|seiner|ihrer|seinem|ihrem) (?:mutter|vater|bruder|schwester|onkel"
            r"|tante|großmutter|großvater)",
            "in der familie",
        ),
        ("pre", (UNCERTAIN,)): ("verdacht auf", "v.a.", "möglicherweise", "fraglich", "fragliche",
                                "mögliche", "möglicher", "wahrscheinlich", "ausschluss"),
        ("terminate", CATEGORIES): ("aber", "jedoch", "sondern", "allerdings"),
        ("terminate-pre", (FAMILY,)): ("der patient", "die patientin", "das kind", "er"),
    },
    "es": {
        ("pre", (NEGATED,)): (
            "no", "sin", "niega", "niegan", "negó", "ausencia de", "ningún", "ninguna",
            "sin evidencia de", "negativo para", "tampoco", "ni",
        ),
        ("post", (NEGATED,)): ("ausente", "ausentes", "negativo", "negativa", "descartado",
                               "descartada", "no presente"),
        ("pre", (FAMILY,)): ("madre", "padre", "hermano", "hermana", "hermanos", "tío", "tía",
                             "primo", "prima", "abuelo", "abuela", "antecedentes familiares de"),
        ("post", (FAMILY,)): (r"en (?:su|la|el) (?:madre|padre|hermano|hermana|tío|tía|abuel[oa])",
                              "en la familia"),
        ("pre", (UNCERTAIN,)): ("posible", "probable", "sospecha de", "descartar", "dudosa",
                                "dudoso"),
        ("terminate", CATEGORIES): ("pero", "sin embargo", "aunque"),
        ("terminate-pre", (FAMILY,)): ("el paciente", "la paciente", "el niño", "la niña"),
    },
    "fr": {
        ("pre", (NEGATED,)): ("pas de", "pas d", "sans", "absence de", "absence d", "aucun",
                              "aucune", "ni", "nie", "niant", "négatif pour", "non"),
        ("post", (NEGATED,)): ("absent", "absente", "absents", "absentes", "négatif", "négative",
                               "non retrouvé", "non retrouvée", "exclu", "exclue"),
        ("pre", (FAMILY,)): ("mère", "père", "frère", "sœur", "soeur", "parents", "oncle",
                             "tante", "cousin", "cousine", "grand-mère", "grand-père",
                             "antécédents familiaux de", "antécédents familiaux d"),
        ("post", (FAMILY,)): (r"chez (?:sa|son|la|le) (?:mère|père|frère|sœur|soeur|oncle|tante)",
                              "dans la famille"),
        ("pre", (UNCERTAIN,)): ("possible", "probable", "suspicion de", "suspicion d",
                                "suspecté", "suspectée", "éliminer"),
        ("terminate", CATEGORIES): ("mais", "cependant", "toutefois"),
        ("terminate-pre", (FAMILY,)): ("le patient", "la patiente", "l'enfant", "il", "elle"),
    },
    "it": {
        ("pre", (NEGATED,)): ("non", "senza", "assenza di", "nessun", "nessuno", "nessuna", "né",
                              "nega", "negativo per", "non presenta"),
        ("post", (NEGATED,)): ("assente", "assenti", "negativo", "negativa", "escluso",
                               "esclusa"),
        ("pre", (FAMILY,)): ("madre", "padre", "fratello", "sorella", "genitori", "zio", "zia",
                             "cugino", "cugina", "nonno", "nonna", "anamnesi familiare"),
        ("post", (FAMILY,)): (r"(?:nel|nella) (?:madre|padre|fratello|sorella|zio|zia|nonn[oa])",
                              "in famiglia"),
        ("pre", (UNCERTAIN,)): ("possibile", "probabile", "sospetto", "sospetta", "sospetto di"),
        ("terminate", CATEGORIES): ("ma", "tuttavia", "però"),
        ("terminate-pre", (FAMILY,)): ("il paziente", "la paziente", "il bambino",
                                       "la bambina"),
    },
    "pt": {
        ("pre", (NEGATED,)): ("não", "sem", "nega", "negam", "ausência de", "nenhum", "nenhuma",
                              "negativo para", "nem"),
        ("post", (NEGATED,)): ("ausente", "ausentes", "negativo", "negativa", "descartado",
                               "descartada"),
        ("pre", (FAMILY,)): ("mãe", "pai", "irmão", "irmã", "irmãos", "tio", "tia", "primo",
                             "prima", "avô", "avó", "história familiar de"),
        ("post", (FAMILY,)): (r"(?:na|no) (?:mãe|pai|irmão|irmã|tio|tia|avô|avó)",
                              "na família"),
        ("pre", (UNCERTAIN,)): ("possível", "provável", "suspeita de"),
        ("terminate", CATEGORIES): ("mas", "porém", "contudo"),
        ("terminate-pre", (FAMILY,)): ("o paciente", "a paciente", "a criança"),
    },
}  # fmt: skip

_CJK_CUES: dict[str, dict[str, tuple[str, str]]] = {
    # category: (pre-cues, post-cues) as regular expressions
    "ja": {
        NEGATED: ("", r"なし|無し|無い|ない|認めない|認めず|みられない|見られない|陰性|否定"),
        FAMILY: (r"母|父|兄|姉|弟|妹|祖父|祖母|叔父|叔母|伯父|伯母|同胞|家族歴|家族", ""),
        UNCERTAIN: (r"疑い|可能性", r"疑い|疑われ|可能性"),
    },
    "zh": {
        NEGATED: (r"无|没有|否认|未见|未发现|未出现|不伴|排除", r"阴性|未见"),
        FAMILY: (r"母亲|父亲|哥哥|姐姐|弟弟|妹妹|兄弟|姐妹|祖父|祖母|外祖|舅舅|姑姑|家族史|家族中",
                 ""),
        UNCERTAIN: (r"可能|疑似|疑为|待排", r"可能"),
    },
}  # fmt: skip
_CLAUSE_END = {"ja": re.compile(r"[。；;！？!?\n、，,]"), "zh": re.compile(r"[。；;！？!?\n，,]")}


def triggers(language: str) -> list[Trigger]:
    """The trigger phrases of a language written with spaces (empty for others)."""
    return [
        Trigger(phrase, direction, frozenset(categories))  # type: ignore[arg-type]
        for (direction, categories), phrases in _PHRASES.get(language, {}).items()
        for phrase in phrases
    ]


def language_rules(language: str) -> ContextRules | None:
    """Compiled trigger phrases of ``language``, None if it has none (English, ja, zh)."""
    found = triggers(language)
    return ContextRules(found) if found else None


def assert_cjk(text: str, matches: Sequence[Match], language: str) -> list[Mention]:
    """Mentions with assertion status for Japanese or Chinese text (clause rules), plus the
    section and line-form rules shared with the other languages."""
    base = assert_mentions(text, matches, ContextRules([]))
    ends = [m.end() for m in _CLAUSE_END[language].finditer(text)] + [len(text)]
    cues = _CJK_CUES[language]
    mentions = []
    for match, mention in zip(matches, base, strict=True):
        start = max((e for e in ends if e <= match.start), default=0)
        stop = min(e for e in ends if e >= match.end)
        before, after = text[start : match.start], text[match.end : stop]
        flags = {}
        for category, (pre, post) in cues.items():
            flags[category] = bool(
                (pre and re.search(pre, before)) or (post and re.search(post, after))
            )
        mentions.append(
            mention.model_copy(
                update={
                    "excluded": mention.excluded or flags[NEGATED],
                    "family": mention.family or flags[FAMILY],
                    "uncertain": mention.uncertain or flags[UNCERTAIN],
                }
            )
        )
    return mentions
