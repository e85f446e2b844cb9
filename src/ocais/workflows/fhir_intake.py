"""FHIR intake: one patient's record from an EHR's FHIR server, imported like any FHIR file.

:func:`import_from_fhir_server` fetches the record (:func:`ocais.ingest.fhir_client.
fetch_patient_bundle`: Patient, Condition, Observation, MedicationRequest, Procedure, Encounter,
all pages, bearer token), writes it as one Bundle to a private temporary file and imports that
file through :func:`~ocais.workflows.indexing.import_and_index`, the use case of ``ocais ingest
PATH``: the same FHIR reader, so the same de-identification before storage (the Patient id kept
only as a keyed hash, no names, identifiers or birth dates), the same strict or skip-invalid
modes and the same ingest run. The temporary file is removed whatever happens; the run records the
server's base URL (never the patient id or the token).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocais.ingest.fhir_client import (
    DEFAULT_TYPES,
    FetchProgress,
    fetch_patient_bundle,
    read_token,
    server_base_url,
)
from ocais.store.importer import ProgressCallback
from ocais.workflows.indexing import ImportOutcome, import_and_index

if TYPE_CHECKING:
    from ocais.workflows.services import Services

__all__ = ["FhirIntakeOutcome", "import_from_fhir_server", "read_token"]


@dataclass
class FhirIntakeOutcome(ImportOutcome):
    """An import's outcome, with the server it came from and how many resources of each type
    were fetched."""

    fhir_server: str = ""
    fetched: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["fhir_server"] = self.fhir_server
        data["fetched"] = self.fetched
        return data


def import_from_fhir_server(
    services: Services,
    base_url: str,
    patient_id: str,
    *,
    token: str | None = None,
    shared: bool = False,
    skip_invalid: bool = False,
    timeout: float = 30,
    max_resources: int = 20000,
    on_fetch: FetchProgress | None = None,
    on_progress: ProgressCallback | None = None,
    on_indexed: Callable[[int], None] | None = None,
) -> FhirIntakeOutcome:
    """Fetch ``patient_id``'s record from the FHIR server at ``base_url`` and import it (see
    the module docstring). ``on_fetch`` follows the fetch ``(resource type, fetched, total)``;
    ``on_progress`` and ``on_indexed`` the import, as in ``import_and_index``.

    Raises the fetch's errors (:mod:`ocais.ingest.fhir_client`: ``ConfigError``,
    ``NotFoundError``, ``UnsupportedFormatError``, ``InputTooLargeError``) before anything is
    written, and the import's (``ImportAbortedError`` in strict mode, ``ConfigError`` for a weak
    ``OCAIS_DEID_SECRET``).
    """
    server = server_base_url(base_url)
    bundle = fetch_patient_bundle(
        server,
        patient_id,
        token=token,
        types=DEFAULT_TYPES,
        timeout=timeout,
        max_resources=max_resources,
        progress=on_fetch,
    )
    fetched = Counter(str(entry["resource"].get("resourceType")) for entry in bundle["entry"])
    with tempfile.TemporaryDirectory(prefix="ocais-fhir-server-") as folder:
        path = Path(folder) / "bundle.json"
        # private to this user (the record is not yet de-identified), removed with the folder
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(bundle, out)
        del bundle
        outcome = import_and_index(
            services,
            path,
            source_format="fhir",
            skip_invalid=skip_invalid,
            on_progress=on_progress,
            on_indexed=on_indexed,
            shared=shared,
            run_settings={"fhir_server": server, "fetched": dict(fetched)},
        )
    return FhirIntakeOutcome(
        outcome.report,
        outcome.indexed,
        outcome.index_error,
        fhir_server=server,
        fetched=dict(fetched),
    )
