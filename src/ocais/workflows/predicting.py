"""The predict use case: (observed, excluded) terms + demographics → a ranked differential.

The API (``POST /api/v1/predict``, with text or a structured case) and the CLI (``ocais predict
--hpo``) both build the query case with :func:`query_case` after :func:`resolve_terms`, so the
same request gives the same answer in both shells.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ocais.errors import ConfigError, InvalidRecordError, UnknownTermError
from ocais.knowledge import KnowledgeBase
from ocais.predict.base import Predictor
from ocais.schemas import Case, GenomicFile, Genomics, Prediction, Sex


def resolve_terms(
    knowledge: KnowledgeBase,
    observations: Sequence[tuple[str, bool]],
    *,
    from_text: bool = False,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Observed and excluded ids (sorted, unique; a term both observed and excluded counts as
    observed). At least one observed term known to the release is needed."""
    observed = sorted({term for term, excluded in observations if not excluded})
    excluded = sorted({term for term, excluded in observations if excluded} - set(observed))
    if observed and not any(knowledge.resolve_id(t) is not None for t in observed):
        raise UnknownTermError(
            f"none of the observed terms is in HPO {knowledge.version}: {', '.join(observed)}",
            hint="pick the findings from the suggestions (or look them up with `ocais knowledge "
            "term`)",
        )
    if not observed:
        nothing = "no HPO phenotype was recognised in the text" if from_text else ""
        raise InvalidRecordError(
            nothing or "no observed phenotype: at least one present finding is needed",
            source="request",
            field="text" if from_text else "case.phenotypes",
            hint="describe findings in clinical terms (e.g. 'seizures, short stature'), or pick "
            "them from the suggestions",
        )
    return tuple(observed), tuple(excluded)


def query_case(
    observed: Sequence[str],
    excluded: Sequence[str],
    sex: Sex = Sex.UNKNOWN,
    age_years: float | None = None,
    genomics: Genomics | None = None,
    *,
    source: str = "api",
) -> Case:
    """The case a prediction request stands for (one validation of plain data: cheap)."""
    case = Case.model_validate(
        {
            "id": source,
            "subject": {"sex": sex, "age_years": age_years},
            "phenotypes": [{"id": t} for t in observed]
            + [{"id": t, "excluded": True} for t in excluded],
            "provenance": {"source": source, "source_format": source},
        }
    )
    if genomics is not None:
        case.genomics = genomics
    return case


def predict_terms(
    predictor: Predictor,
    knowledge: KnowledgeBase,
    observations: Sequence[tuple[str, bool]],
    *,
    sex: Sex = Sex.UNKNOWN,
    age_years: float | None = None,
    top_k: int = 10,
    source: str = "api",
    from_text: bool = False,
    genomics: Genomics | None = None,
) -> Prediction:
    """Rank every disease for (term id, excluded) pairs and demographics (``from_text``: the
    pairs were read from a text, which the error for "no finding" says), with the patient's
    genomic evidence if any."""
    observed, excluded = resolve_terms(knowledge, observations, from_text=from_text)
    case = query_case(observed, excluded, sex, age_years, genomics, source=source)
    return predictor.predict(case, top_k)


def predict_case(predictor: Predictor, case: Case, top_k: int = 10) -> Prediction:
    """Rank every disease for a full case (a phenopacket file, a stored case)."""
    return predictor.predict(case, top_k)


def text_observations(knowledge: KnowledgeBase, text: str) -> list[tuple[str, bool]]:
    """(term id, excluded) pairs of the patient's own, certain findings in a free text, read by
    the concept recognizer of ``ocais.ingest.text`` (family and uncertain mentions left out)."""
    from ocais.ingest.text import extract_phenotypes, to_observations

    return [(o.id, o.excluded) for o in to_observations(extract_phenotypes(text, knowledge))]


def predict_text(
    predictor: Predictor,
    knowledge: KnowledgeBase,
    text: str,
    *,
    sex: Sex = Sex.UNKNOWN,
    age_years: float | None = None,
    top_k: int = 10,
    source: str = "api",
    genomics: Genomics | None = None,
) -> Prediction:
    """Rank every disease for a clinician's free-text description."""
    return predict_terms(
        predictor,
        knowledge,
        text_observations(knowledge, text),
        sex=sex,
        age_years=age_years,
        top_k=top_k,
        source=source,
        from_text=True,
        genomics=genomics,
    )


def patient_genomics(
    predictor: Predictor,
    *,
    vcf: Path | None = None,
    sample: str | None = None,
    genes: Sequence[str] = (),
    given: Genomics | None = None,
) -> Genomics | None:
    """The genomic evidence of a request: a VCF (read once now, so that a bad file is a clear
    error before ranking; the predictor keeps the calls in memory only), candidate genes, and
    what a case already carries (``given``). ``None`` when there is none.

    Raises :class:`~ocais.errors.GenomicInputError` for an unusable VCF, and
    :class:`~ocais.errors.ConfigError` when the predictor cannot use genomic evidence.
    """
    genomics = given.model_copy(deep=True) if given is not None else Genomics()
    genomics.genes.extend(g.strip() for g in genes if g.strip())
    if vcf is not None:
        read_file = getattr(predictor, "read_file", None)
        if not callable(read_file):
            raise ConfigError(
                f"predictor {predictor.name!r} does not read VCFs",
                hint="use --predictor genomic",
            )
        uri = str(vcf.expanduser().resolve())
        read_file(uri, sample)  # validates (and caches) the file
        genomics.files.append(GenomicFile(uri=uri, sample=sample))
    return None if genomics.empty else genomics
