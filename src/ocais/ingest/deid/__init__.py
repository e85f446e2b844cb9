"""De-identification of clinical free text, applied before anything is stored or indexed.

Usage::

    from ocais.ingest.deid import DeidConfig, Deidentifier

    deid = Deidentifier(DeidConfig.from_env())  # the site secret from OCAIS_DEID_SECRET
    result = deid.deidentify(note, patient_key=case_id, known_identifiers={"NAME": ["Jane Doe"]})

``result.text`` is the scrubbed note; ``result.spans`` say what was replaced where (offsets into the
original, never the original values). See :mod:`ocais.ingest.deid.deidentifier`.

Structured fields get the same rules: every reader stores ages over 89 as 90, "90 or older"
(:func:`top_code_ages`), and a record's own id only as a keyed hash (:func:`pseudonymous_id`).
"""

from ocais.ingest.deid.ages import AGE_TOP_CODE, top_code_ages
from ocais.ingest.deid.dates import date_shift_days
from ocais.ingest.deid.deidentifier import Deidentifier
from ocais.ingest.deid.keyed import pseudonymous_id
from ocais.ingest.deid.models import DeidConfig, DeidResult, PhiKind, PhiSpan

__all__ = [
    "AGE_TOP_CODE",
    "DeidConfig",
    "DeidResult",
    "Deidentifier",
    "PhiKind",
    "PhiSpan",
    "date_shift_days",
    "pseudonymous_id",
    "top_code_ages",
]
