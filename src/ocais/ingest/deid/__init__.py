"""De-identification of clinical free text, applied before anything is stored or indexed.

Usage::

    from ocais.ingest.deid import DeidConfig, Deidentifier

    deid = Deidentifier(DeidConfig.from_env())  # the site secret from OCAIS_DEID_SECRET
    result = deid.deidentify(note, patient_key=case_id, known_identifiers={"NAME": ["Jane Doe"]})

``result.text`` is the scrubbed note; ``result.spans`` say what was replaced where (offsets into the
original, never the original values). See :mod:`ocais.ingest.deid.deidentifier`.
"""

from ocais.ingest.deid.dates import date_shift_days
from ocais.ingest.deid.deidentifier import Deidentifier
from ocais.ingest.deid.models import DeidConfig, DeidResult, PhiKind, PhiSpan

__all__ = [
    "DeidConfig",
    "DeidResult",
    "Deidentifier",
    "PhiKind",
    "PhiSpan",
    "date_shift_days",
]
