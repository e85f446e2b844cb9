"""Parser for HPO disease annotations (``phenotype.hpoa``, the HPO "big file" format).

Each row links a disease (OMIM, ORPHA, DECIPHER) to an HPO term, with an optional ``NOT``
qualifier (the disease is known *not* to show the feature), onset, frequency and sex. Frequencies
come in three forms, all converted to a probability in [0, 1]:

* an HPO frequency term (HP:0040280 Obligate ... HP:0040285 Excluded), mapped to the midpoint of
  the interval the HPO defines for it (Köhler et al., Nucleic Acids Res 2021; HPO documentation);
* ``n/m`` — n of m reported patients;
* ``x%``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ocais.errors import KnowledgeError

# Midpoints of the intervals in the HPO "Frequency" subontology (HP:0040279).
FREQUENCY_TERMS: dict[str, float] = {
    "HP:0040280": 1.0,  # Obligate: 100%
    "HP:0040281": 0.895,  # Very frequent: 80-99%
    "HP:0040282": 0.545,  # Frequent: 30-79%
    "HP:0040283": 0.17,  # Occasional: 5-29%
    "HP:0040284": 0.025,  # Very rare: 1-4%
    "HP:0040285": 0.0,  # Excluded: 0%
}

ASPECTS = {"P": "phenotype", "I": "inheritance", "C": "clinical course", "M": "modifier"}
_COLUMNS = ["database_id", "disease_name", "qualifier", "hpo_id", "reference", "evidence"]


@dataclass
class AnnotationRows:
    """Column-wise annotation rows (one list per column, same length)."""

    version: str = "unknown"
    disease_ids: list[str] = field(default_factory=list)
    disease_names: dict[str, str] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)
    excluded: list[bool] = field(default_factory=list)
    frequency: list[float] = field(default_factory=list)  # NaN where not given
    onset: list[str] = field(default_factory=list)  # "" where not given
    sex: list[str] = field(default_factory=list)  # "", "female", "male"
    aspect: list[str] = field(default_factory=list)


def parse_frequency(text: str) -> float:
    """Convert an hpoa frequency field to a probability; ``nan`` if empty.

    Raises ``ValueError`` for a value that is none of the three documented forms.
    """
    text = text.strip()
    if not text:
        return float("nan")
    if text in FREQUENCY_TERMS:
        return FREQUENCY_TERMS[text]
    if text.endswith("%"):
        value = float(text[:-1]) / 100
    elif "/" in text:
        numerator, denominator = text.split("/", 1)
        den = float(denominator)
        if den <= 0:
            raise ValueError(f"frequency {text!r} has a zero denominator")
        value = float(numerator) / den
    else:
        raise ValueError(f"unknown frequency {text!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"frequency {text!r} is outside 0-100%")
    return value


def parse_hpoa(path: Path) -> AnnotationRows:
    """Parse ``phenotype.hpoa``. Raises ``KnowledgeError`` naming the line of a malformed row."""
    rows = AnnotationRows()
    header: list[str] | None = None
    with path.open(encoding="utf-8") as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\n")
            if line.startswith("#"):
                if line.startswith("#version:") or line.startswith("#date:"):
                    rows.version = line.split(":", 1)[1].strip()
                continue
            if not line:
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
                if header[: len(_COLUMNS)] != _COLUMNS:
                    raise KnowledgeError(
                        f"{path}: unexpected header {header[:6]}",
                        hint="expected the phenotype.hpoa format with columns "
                        + ", ".join(_COLUMNS),
                    )
                col = {name: i for i, name in enumerate(header)}
                continue
            if len(cells) < len(header):
                raise KnowledgeError(f"{path}:{line_number}: expected {len(header)} columns")
            try:
                freq = parse_frequency(cells[col["frequency"]])
            except ValueError as exc:
                raise KnowledgeError(f"{path}:{line_number}: {exc}") from exc
            disease = cells[col["database_id"]]
            rows.disease_ids.append(disease)
            rows.disease_names.setdefault(disease, cells[col["disease_name"]])
            rows.terms.append(cells[col["hpo_id"]])
            rows.excluded.append(cells[col["qualifier"]] == "NOT")
            rows.frequency.append(freq)
            rows.onset.append(cells[col["onset"]])
            rows.sex.append(cells[col["sex"]].lower())
            rows.aspect.append(cells[col["aspect"]])
    if header is None or not rows.terms:
        raise KnowledgeError(f"{path}: no annotation rows", hint="is this a phenotype.hpoa file?")
    return rows
