"""The one exception hierarchy of OCAIS.

Every error subclasses :class:`OcaisError` *and* the matching built-in (``ValueError``,
``LookupError``, ``OSError``), so callers may catch either. Each carries a stable ``code`` (for the
API's error envelope and for scripts) and a message that says what to do next.
"""

from __future__ import annotations

from typing import Any


class OcaisError(Exception):
    """Root of all OCAIS errors."""

    code: str = "ocais_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


class ConfigError(OcaisError, ValueError):
    """A setting is missing or invalid."""

    code = "config_error"


class KnowledgeError(OcaisError, OSError):
    """A knowledge release cannot be found, read or compiled."""

    code = "knowledge_error"


class UnknownTermError(OcaisError, LookupError):
    """An HPO id, name or synonym is not in the loaded release."""

    code = "unknown_term"


class UnknownDiseaseError(OcaisError, LookupError):
    """A disease id is not in the loaded annotations."""

    code = "unknown_disease"


class InvalidRecordError(OcaisError, ValueError):
    """One input record is malformed; ``source`` and ``field`` say where."""

    code = "invalid_record"

    def __init__(
        self,
        message: str,
        *,
        source: str,
        field: str | None = None,
        record: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.field = field
        self.record = record
        where = source if record is None else f"{source} [{record}]"
        if field:
            where = f"{where}, field '{field}'"
        super().__init__(f"{where}: {message}", hint=hint)
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only arguments: rebuild explicitly (records cross process boundaries)
        return (
            _rebuild_invalid_record,
            (self.message, self.source, self.field, self.record, self.hint),
        )


def _rebuild_invalid_record(
    message: str, source: str, field: str | None, record: str | None, hint: str | None
) -> InvalidRecordError:
    return InvalidRecordError(message, source=source, field=field, record=record, hint=hint)


class UnsupportedFormatError(OcaisError, ValueError):
    """The input's format is unknown, or a version we do not read (e.g. Phenopacket v1)."""

    code = "unsupported_format"


class InputTooLargeError(OcaisError, ValueError):
    """An input exceeds the configured size limit."""

    code = "input_too_large"


class ImportAbortedError(OcaisError, ValueError):
    """An import stopped on invalid records and wrote nothing; ``rejects`` lists them all."""

    code = "import_aborted"

    def __init__(self, message: str, *, rejects: list[dict[str, Any]]) -> None:
        self.rejects = rejects
        super().__init__(message, hint="fix the records, or pass --skip-invalid to import the rest")


class StoreError(OcaisError, RuntimeError):
    """The store cannot be opened, migrated or written."""

    code = "store_error"


class NotFoundError(OcaisError, LookupError):
    """A stored object (case, run) does not exist."""

    code = "not_found"


class AccessDeniedError(OcaisError, PermissionError):
    """The caller's role may not do this to an object it may see (e.g. a researcher deleting)."""

    code = "forbidden"


class SearchUnavailableError(OcaisError, RuntimeError):
    """Search cannot run on this installation (no vector index backend could be opened)."""

    code = "search_unavailable"


class VectorIndexError(OcaisError, ValueError):
    """A vector collection or a request to it is invalid (spec mismatch, dimension, filter)."""

    code = "vector_index_error"


class ReleaseRefusedError(OcaisError, ValueError):
    """A synthetic set failed its release gate (or its report does not match it); nothing was
    written. ``failures`` lists the reasons."""

    code = "release_refused"

    def __init__(self, message: str, *, failures: list[str], hint: str | None = None) -> None:
        self.failures = failures
        super().__init__(
            message,
            hint=hint
            or "regenerate the set with stronger privacy settings (e.g. a larger min_distance or "
            "a differential-privacy epsilon), re-run the report, and release again",
        )


class LLMError(OcaisError, RuntimeError):
    """An LLM call failed (server down, timeout, invalid or empty answer). Callers that can
    answer without the LLM (``rag``, explanations, letters) do so and say what failed."""

    code = "llm_failed"


class LLMUnavailableError(LLMError):
    """No LLM is configured, or the configured one cannot be reached or loaded."""

    code = "llm_unavailable"


class LLMOutputError(LLMError):
    """The LLM answered, but not with what was asked (invalid JSON, empty, off-schema)."""

    code = "llm_bad_output"


class PackageError(OcaisError, ValueError):
    """An evidence package is malformed, altered or incomplete (a checksum, the signature, a
    listed file, the schema); nothing was installed."""

    code = "package_invalid"


class UntrustedPackageError(PackageError):
    """An evidence package is intact but signed by a key this site does not trust (for its
    kind); nothing was installed."""

    code = "package_untrusted"


class PackageConflictError(PackageError):
    """A package of this name and version is already installed with other content (versions
    are immutable: publish a new version)."""

    code = "package_conflict"


class GenomicInputError(OcaisError, ValueError):
    """A VCF, variant list or gene list that cannot be used: unreadable, unknown assembly,
    no gene annotations, a sample that is not in the file, an unknown gene."""

    code = "genomic_input_invalid"
