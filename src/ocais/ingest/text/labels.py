"""How a label may be written in a note (word order, commas, "of", adjectives), and which of
several overlapping matches to keep: the pieces of :class:`~ocais.ingest.text.recognizer.
ConceptRecognizer` that need no dictionary."""

from __future__ import annotations

from ocais.ingest.text.normalize import SKIPPED_WORDS, label_keys

# Noun → adjectives, as matching keys: "hypoplasia of the thumb" is also "hypoplastic thumb".
NOUN_TO_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "hypoplasia": ("hypoplastic",),
    "aplasia": ("aplastic", "absent"),
    "agenesis": ("absent",),
    "dysplasia": ("dysplastic",),
    "atrophy": ("atrophic",),
    "hypertrophy": ("hypertrophic",),
    "sclerosis": ("sclerotic",),
    "stenosis": ("stenotic",),
    "abnormality": ("abnormal",),
    "malformation": ("malformed",),
    "dilatation": ("dilated",),
    "dilation": ("dilated",),
    "enlargement": ("enlarged",),
    "calcification": ("calcified",),
    "asymmetry": ("asymmetric",),
    "duplication": ("duplicated",),
    "fusion": ("fused",),
    "shortening": ("short",),
}

ADJECTIVE_TO_NOUN = {"absent": "absence", "abnormal": "abnormality"}


def label_variants(label: str, cache: dict[str, str]) -> list[list[str]]:
    """Token-key sequences a label may be written as, the label itself first."""
    words = label_keys(label, cache, keep_skipped=True)
    variants = [[k for k in words if k not in SKIPPED_WORDS]]
    if len(words) > 2 and words[-1] == ")" and "(" in words:
        # "Febrile seizure (within the age range of 3 months to 6 years)"
        words = words[: len(words) - words[::-1].index("(") - 1]
        variants.append([k for k in words if k not in SKIPPED_WORDS])
    keys = variants[-1]
    content = [k for k in keys if k != ","]
    if "," in keys:
        variants.append(content)  # "Seizures, tonic-clonic" also as "seizures tonic-clonic"
        comma = keys.index(",")
        if 1 <= len(keys) - comma - 1 <= 2 and "," not in keys[comma + 1 :]:
            variants.append(keys[comma + 1 :] + keys[:comma])  # ... and "tonic-clonic seizures"
    elif 2 <= len(content) <= 4:
        variants.append([content[-1], ",", *content[:-1]])  # "seizure, bilateral tonic-clonic"
    if len(content) >= 3 and content[0] == "type":
        variants.append([*content[2:], *content[:2]])  # "Type C brachydactyly"
    if len(content) >= 2 and content[0] in ADJECTIVE_TO_NOUN:
        variants.append([ADJECTIVE_TO_NOUN[content[0]], *content[1:]])  # "absence of speech"
    if "of" in words:
        at = words.index("of")
        head = [k for k in words[:at] if k not in SKIPPED_WORDS]
        tail = [k for k in words[at + 1 :] if k not in SKIPPED_WORDS]
        if 1 <= len(head) <= 2 and 1 <= len(tail) <= 3 and "," not in head + tail:
            variants.append(tail + head)  # "corpus callosum hypoplasia"
            if len(head) == 1:
                variants.extend([adj, *tail] for adj in NOUN_TO_ADJECTIVES.get(head[0], ()))
    elif 2 <= len(content) <= 4 and content[-1] in NOUN_TO_ADJECTIVES and "," not in keys:
        variants.append([content[-1], *content[:-1]])  # "thumb hypoplasia": "hypoplasia of thumb"
        variants.extend([adj, *content[:-1]] for adj in NOUN_TO_ADJECTIVES[content[-1]])
    return [v for v in variants if v]


def longest_first(
    candidates: list[tuple[int, int, int, int]],
) -> list[tuple[int, int, int, int]]:
    """Keep non-overlapping candidates, longest first (then leftmost); return in text order."""
    taken: list[tuple[int, int, int, int]] = []
    used: set[int] = set()
    for candidate in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):
        span = range(candidate[0], candidate[1])
        if used.isdisjoint(span):
            taken.append(candidate)
            used.update(span)
    return sorted(taken)
