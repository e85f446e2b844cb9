"""Bodies of ``POST /api/v1/predict``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from ocais.schemas import HpoId, Prediction, Sex, VariantCall
from ocais.serve.schemas.common import Strict

MAX_PHENOTYPES = 500
MAX_GENES = 500
MAX_VARIANTS = 1000


class PhenotypeInput(Strict):
    id: HpoId = Field(description="HPO id, e.g. HP:0001250")
    excluded: bool = Field(default=False, description="True: explicitly absent in the patient")


class CaseInput(Strict):
    """A case as structured data: phenotypes, sex, age, and optionally the patient's candidate
    genes or variants (used to rank with the ``genomic`` predictor, never stored or logged).
    No identifiers, no text."""

    phenotypes: list[PhenotypeInput] = Field(default_factory=list, max_length=MAX_PHENOTYPES)
    sex: Sex = Sex.UNKNOWN
    age_years: float | None = Field(default=None, ge=0, le=150)
    genes: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=MAX_GENES,
        description="Genes a sequencing report found candidate variants in (no genotypes): "
        "symbols, NCBIGene:2200, or HGNC:3603|FBN1",
    )
    variants: list[VariantCall] = Field(
        default_factory=list,
        max_length=MAX_VARIANTS,
        description="Variants from a sequencing report (VCFs: use `ocais predict --vcf` or a "
        "phenopacket's files)",
    )


class PredictRequest(Strict):
    """Free text, a structured case, or both (their phenotypes are merged)."""

    # the text is kept exactly as sent: mention offsets index into it
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    text: str | None = Field(
        default=None,
        description="Clinical free text; phenotypes are recognised in it (negation aware). "
        "The text is never stored or logged.",
    )
    case: CaseInput | None = None
    top_k: int = Field(default=10, ge=1, description="Candidates to return")
    predictor: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_-]{0,39}$",
        description="A registered predictor (phenotype, genomic, resnik, rag, llm, ...); "
        "default: the one the site serves (OCAIS_SERVE_PREDICTOR), or genomic when the case "
        "gives genes or variants",
    )
    explain: bool = Field(
        default=False,
        description="Also explain the first candidates from their evidence (by the site's LLM "
        "when one is configured, from a template otherwise)",
    )

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("text is empty: describe the patient's findings")
        return value

    @model_validator(mode="after")
    def _something_to_predict(self) -> PredictRequest:
        if self.text is None and self.case is None:
            raise ValueError("give text, case, or both")
        return self


class MentionOut(BaseModel):
    """A phenotype recognised in the text: the span, its HPO term and its context flags."""

    id: str
    label: str
    text: str
    start: int
    end: int
    excluded: bool = False
    family: bool = False
    uncertain: bool = False
    confidence: float = Field(
        default=1.0, description="1 for a label as written; lower when read through a typo"
    )


class SuggestionOut(BaseModel):
    """A term an unmapped span may mean ("did you mean"), with a similarity score (0–1)."""

    id: str
    label: str
    score: float
    source: str = Field(
        default="dictionary",
        description="dictionary (spelling / label similarity) or llm (the site's LLM read the "
        "span; offered when the request already uses it: explain, rag, llm)",
    )


class UnmappedOut(BaseModel):
    """A clinical-looking span of the text that no term was recognised in."""

    text: str
    start: int
    end: int
    suggestions: list[SuggestionOut] = Field(default_factory=list)


class PredictInputOut(BaseModel):
    """What the prediction was made from (and stored with it): HPO ids, sex and age."""

    observed: list[str]
    excluded: list[str]
    sex: Sex
    age_years: float | None


class PredictResponse(BaseModel):
    prediction_id: str = Field(description="Give it with feedback on this prediction")
    mentions: list[MentionOut] | None = Field(
        default=None, description="Phenotypes recognised in the text (when text was given)"
    )
    unmapped: list[UnmappedOut] | None = Field(
        default=None,
        description="Clinical-looking spans of the text with no recognised phenotype, each with "
        "'did you mean' suggestions (when text was given)",
    )
    input: PredictInputOut
    prediction: Prediction
    explanation: str | None = Field(
        default=None, description="Why the first candidates rank where they do (explain: true)"
    )
    explanation_provenance: dict[str, Any] | None = Field(
        default=None,
        description="Who wrote the explanation: source (llm / template), model, prompt, and why "
        "the LLM was not used (failed)",
    )
