"""Reader for Synthea CSV exports: one :class:`~ocais.schemas.Case` per row of ``patients.csv``.

Accepted inputs: the folder holding ``patients.csv``, its parent (with a ``csv/`` subfolder), or a
``.zip`` archive containing such a folder (members are streamed, never extracted to disk).

Read: ``patients.csv`` (required) and, when present, ``conditions.csv``, ``observations.csv``,
``medications.csv``, ``procedures.csv`` and ``encounters.csv``; other files are ignored. Only
de-identified demographics are kept (sex, birth year, age, deceased flag): names, SSN, licence and
passport numbers, address, coordinates and the exact birth date never leave this module, and an
observation text value containing one of the patient's identifiers is dropped (the finding is kept;
``provenance.parameters["withheld_values"]`` counts them). Ages over 89 are stored as 90, "90 or
older", with no birth year that would show it (:mod:`ocais.ingest.deid.ages`). The patient ``Id``
is kept only as a keyed hash of the site secret ``OCAIS_DEID_SECRET`` (the same layout can hold a
real export), so reading needs the secret, and the same secret maps a re-imported patient to the
same case.

A bad row yields an :class:`~ocais.errors.InvalidRecordError` naming file, line and column and the
reader goes on; a bad patient row also drops that patient (and, silently, the rows that refer to
it). Rows referring to a patient that is not in ``patients.csv`` are rejected one by one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, TextIO

from pydantic import ValidationError

from ocais.errors import InputTooLargeError, InvalidRecordError, UnsupportedFormatError
from ocais.ingest.base import ReaderContext, Record, check_size, condition_mondo_id
from ocais.ingest.deid import DeidConfig
from ocais.ingest.deid.ages import top_code_ages
from ocais.ingest.deid.dates import shift_findings
from ocais.ingest.deid.keyed import pseudonymous_id, site_deid_config
from ocais.schemas import (
    Case,
    Finding,
    FindingCategory,
    PhenotypeObservation,
    Provenance,
    Sex,
    Subject,
)

_Row = dict[str, str]
FORMAT = "synthea-csv"
PATIENTS = "patients.csv"
_PATIENT_COLUMNS = ("Id", "BIRTHDATE", "DEATHDATE", "GENDER")
# Identifying columns of patients.csv. They are held in memory while the export is read, only to
# withhold any observation text value that contains one (e.g. the PRAPARE answer to "What address
# do you live at?"); they are never written to a case.
_IDENTIFIER_COLUMNS = (
    "FIRST", "MIDDLE", "LAST", "MAIDEN", "SSN", "DRIVERS", "PASSPORT", "ADDRESS", "CITY", "ZIP",
)  # fmt: skip
_IDENTIFYING_CODES = frozenset({"56799-0"})  # LOINC "Address": always withheld
_SEX = {"M": Sex.MALE, "F": Sex.FEMALE}
# Values of the SYSTEM column (Synthea 3.x conditions and procedures) as OCAIS system names.
_SYSTEMS = {
    "SNOMED-CT": "SNOMEDCT",
    "http://snomed.info/sct": "SNOMEDCT",
    "LOINC": "LOINC",
    "http://loinc.org": "LOINC",
    "RxNorm": "RXNORM",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM",
}


@dataclass(frozen=True)
class _Table:
    """How one clinical CSV file maps onto findings."""

    file: str
    category: FindingCategory
    system: str
    date: str
    end: str | None = None
    value: str | None = None
    extra: tuple[str, ...] = ()  # further required header columns
    old_date: str | None = None  # name of the date column in older Synthea versions

    def columns(self) -> tuple[str, ...]:
        cols = ("PATIENT", self.date, "CODE", "DESCRIPTION", *self.extra)
        return cols if self.value is None else (*cols, self.value)


_C = FindingCategory
_TABLES = (
    _Table("conditions.csv", _C.CONDITION, "SNOMEDCT", "START", end="STOP"),
    _Table("observations.csv", _C.OBSERVATION, "LOINC", "DATE", value="VALUE",
           extra=("UNITS", "TYPE")),
    _Table("medications.csv", _C.MEDICATION, "RXNORM", "START", end="STOP"),
    # Synthea before 3.0 wrote one DATE column (no START/STOP) for procedures.
    _Table("procedures.csv", _C.PROCEDURE, "SNOMEDCT", "START", end="STOP", old_date="DATE"),
    _Table("encounters.csv", _C.ENCOUNTER, "SNOMEDCT", "START", end="STOP", value="ENCOUNTERCLASS"),
)  # fmt: skip


class _RowError(ValueError):
    """A bad value in one row; turned into an InvalidRecordError by the caller."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass
class _Patient:
    """What is collected for one patient while the files are streamed."""

    record_id: str
    sex: Sex
    birth: date
    death: date | None
    findings: list[Finding] = field(default_factory=list)
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    last_encounter: date | None = None
    skipped_rows: int = 0
    identifiers: frozenset[str] = frozenset()  # case-folded, never leaves this module
    withheld_values: int = 0

    def add_row(self, file: str, row: list[str]) -> None:
        self.hasher.update("\x1f".join([file, *row]).encode() + b"\n")

    def withhold_identifiers(self, finding: Finding) -> None:
        """Drop a text value that is, or contains, one of the patient's identifiers."""
        if not isinstance(finding.value, str):
            return
        text = finding.value.casefold()
        if finding.code in _IDENTIFYING_CODES or any(i in text for i in self.identifiers):
            finding.value = None
            self.withheld_values += 1


class _Export:
    """The CSV files of one export, in a directory or in a folder of an open zip archive."""

    def __init__(
        self,
        limit: int,
        folder: Path | None = None,
        archive: zipfile.ZipFile | None = None,
        prefix: str = "",
    ) -> None:
        self.limit, self.folder, self.archive, self.prefix = limit, folder, archive, prefix

    def has(self, name: str) -> bool:
        if self.archive is not None:
            return self.prefix + name in self.archive.NameToInfo
        return self.folder is not None and (self.folder / name).is_file()

    def open(self, name: str) -> TextIO:
        if self.archive is not None:
            info = self.archive.getinfo(self.prefix + name)
            if info.file_size > self.limit:
                raise InputTooLargeError(
                    f"{info.filename}: {info.file_size:,} bytes is over the limit of "
                    f"{self.limit:,} bytes",
                    hint="raise OCAIS_MAX_FILE_BYTES",
                )
            return io.TextIOWrapper(self.archive.open(info), encoding="utf-8-sig", newline="")
        assert self.folder is not None
        check_size(self.folder / name, self.limit)
        return (self.folder / name).open(encoding="utf-8-sig", newline="")


def _zip_patients(archive: zipfile.ZipFile) -> list[str]:
    return [
        name
        for name in archive.namelist()
        if PurePosixPath(name).name == PATIENTS and not name.startswith("__MACOSX/")
    ]


def _folder(path: Path) -> Path | None:
    for folder in (path, path / "csv"):
        if (folder / PATIENTS).is_file():
            return folder
    return None


def _missing_patients(path: Path) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        f"{path}: no {PATIENTS} found (looked in the folder and in its csv/ subfolder)",
        hint="a Synthea CSV export has patients.csv and optionally conditions.csv, "
        "observations.csv, medications.csv, procedures.csv and encounters.csv",
    )


def _text(row: _Row, column: str, *, required: bool = False) -> str | None:
    text = (row.get(column) or "").strip()
    if not text and required:
        raise _RowError("value is missing", column)
    return text or None


def _date(row: _Row, column: str, *, required: bool) -> date | None:
    text = _text(row, column, required=required)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise _RowError(f"not an ISO 8601 date: {text!r}", column) from None


def _observation_value(row: _Row, text: str) -> float | str:
    """A float when the row's TYPE is ``numeric``, else the text as given."""
    if (row.get("TYPE") or "").strip().lower() != "numeric":
        return text
    try:
        number = float(text)
    except ValueError:
        raise _RowError(f"not a number: {text!r}", "VALUE") from None
    if not math.isfinite(number):
        raise _RowError(f"not a finite number: {text!r}", "VALUE")
    return number


def _age(birth: date, at: date) -> float:
    return round((at - birth).days / 365.25, 2)


def _rows(
    export: _Export, name: str, needed: tuple[str, ...], aliases: dict[str, str] | None = None
) -> Iterator[tuple[int, _Row, list[str]]]:
    """Yield (line number, row by column, raw values) of one CSV file after checking its header.

    ``aliases`` map an old column name to the current one, used when the current one is absent.
    """
    with export.open(name) as handle:
        reader = csv.reader(handle)
        try:
            header = [column.strip() for column in next(reader, [])]
            for old, new in (aliases or {}).items():
                if new not in header and old in header:
                    header[header.index(old)] = new
            missing = [column for column in needed if column not in header]
            if missing:
                raise UnsupportedFormatError(
                    f"{name}: missing column(s) {', '.join(missing)}",
                    hint="is this a Synthea CSV export?",
                )
            for values in reader:
                if values:
                    yield reader.line_num, dict(zip(header, values, strict=False)), values
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UnsupportedFormatError(
                f"{name} line {reader.line_num}: not readable as UTF-8 CSV: {exc}"
            ) from exc


class SyntheaCsvReader:
    """Read a Synthea CSV export (directory, its ``csv/`` parent, or a zip archive)."""

    name: ClassVar[str] = FORMAT

    def __init__(self, context: ReaderContext, deid_config: DeidConfig | None = None) -> None:
        self.context = context
        self._deid_config = deid_config  # None: the site secret from OCAIS_DEID_SECRET

    def sniff(self, path: Path) -> bool:
        if path.is_dir():
            return _folder(path) is not None
        if path.is_file() and path.suffix.lower() == ".zip":
            try:
                with zipfile.ZipFile(path) as archive:
                    return bool(_zip_patients(archive))
            except (zipfile.BadZipFile, OSError):
                return False
        return False

    def read(self, path: Path) -> Iterator[Record]:
        deid = site_deid_config(
            self._deid_config,
            "Synthea patient ids are kept only as a keyed hash",
            installation_key=self.context.installation_key,
        )
        with ExitStack() as stack:
            export = self._open(path, stack)
            patients: dict[str, _Patient] = {}
            rejected: set[str] = set()
            yield from self._read_patients(export, patients, rejected)
            for table in _TABLES:
                if export.has(table.file):
                    yield from self._read_table(export, table, patients, rejected)
            for patient in patients.values():
                yield self._case(path, patient, deid)

    def _open(self, path: Path, stack: ExitStack) -> _Export:
        limit = self.context.max_file_bytes
        if path.is_dir():
            folder = _folder(path)
            if folder is None:
                raise _missing_patients(path)
            return _Export(limit, folder=folder)
        if not path.is_file():
            raise UnsupportedFormatError(f"{path}: no such file or directory")
        check_size(path, limit)
        try:
            archive = stack.enter_context(zipfile.ZipFile(path))
        except zipfile.BadZipFile as exc:
            raise UnsupportedFormatError(
                f"{path}: not a directory or zip archive of a Synthea CSV export"
            ) from exc
        found = _zip_patients(archive)
        if not found:
            raise _missing_patients(path)
        if len(found) > 1:
            raise UnsupportedFormatError(
                f"{path}: holds several exports ({', '.join(sorted(found))}); read one at a time"
            )
        return _Export(limit, archive=archive, prefix=found[0][: -len(PATIENTS)])

    def _read_patients(
        self, export: _Export, patients: dict[str, _Patient], rejected: set[str]
    ) -> Iterator[InvalidRecordError]:
        for line, row, values in _rows(export, PATIENTS, _PATIENT_COLUMNS):
            record_id = (row.get("Id") or "").strip()
            try:
                if not record_id:
                    raise _RowError("value is missing", "Id")
                if record_id in patients or record_id in rejected:
                    raise _RowError(f"duplicate patient id {record_id!r}", "Id")
                birth = _date(row, "BIRTHDATE", required=True)
                assert birth is not None
                death = _date(row, "DEATHDATE", required=False)
                if death is not None and death < birth:
                    raise _RowError("death date is before birth date", "DEATHDATE")
                try:
                    Subject(birth_year=birth.year)
                except ValidationError:
                    raise _RowError(f"year {birth.year} is out of range", "BIRTHDATE") from None
            except _RowError as exc:
                if record_id:
                    rejected.add(record_id)
                yield self._reject(exc, PATIENTS, line)
                continue
            sex = _SEX.get((row.get("GENDER") or "").strip().upper(), Sex.UNKNOWN)
            patient = _Patient(record_id, sex, birth, death)
            patient.identifiers = frozenset(
                value.casefold()
                for value in (_text(row, column) for column in _IDENTIFIER_COLUMNS)
                if value is not None and len(value) >= 3
            )
            patient.add_row(PATIENTS, values)
            patients[record_id] = patient

    def _read_table(
        self,
        export: _Export,
        table: _Table,
        patients: dict[str, _Patient],
        rejected: set[str],
    ) -> Iterator[InvalidRecordError]:
        aliases = None if table.old_date is None else {table.old_date: table.date}
        for line, row, values in _rows(export, table.file, table.columns(), aliases):
            record_id = (row.get("PATIENT") or "").strip()
            patient = patients.get(record_id)
            if patient is None:
                if record_id in rejected:
                    continue
                message = "value is missing" if not record_id else f"unknown patient {record_id!r}"
                yield InvalidRecordError(
                    message, source=table.file, record=f"line {line}", field="PATIENT"
                )
                continue
            patient.add_row(table.file, values)
            try:
                finding = self._finding(table, row)
            except _RowError as exc:
                patient.skipped_rows += 1
                yield self._reject(exc, table.file, line)
                continue
            patient.withhold_identifiers(finding)
            patient.findings.append(finding)
            if table.category is FindingCategory.ENCOUNTER and finding.date is not None:
                last = patient.last_encounter
                patient.last_encounter = finding.date if last is None else max(last, finding.date)

    def _finding(self, table: _Table, row: _Row) -> Finding:
        code = _text(row, "CODE", required=True)
        assert code is not None
        system = _text(row, "SYSTEM") or table.system
        system = _SYSTEMS.get(system, system)
        text = None if table.value is None else _text(row, table.value)
        value: float | str | None = text
        if text is not None and table.category is FindingCategory.OBSERVATION:
            value = _observation_value(row, text)
        hpo_ids: list[str] = []
        terms = self.context.terms
        is_snomed_condition = table.category is FindingCategory.CONDITION and system == "SNOMEDCT"
        if terms is not None and is_snomed_condition:
            hpo_ids = sorted(set(terms.hpo_for_xref("SNOMEDCT_US", code)))
        mondo_id = None
        if table.category is FindingCategory.CONDITION:
            mondo_id = condition_mondo_id(terms, [(system, code)])
        try:
            return Finding(
                category=table.category,
                system=system,
                code=code,
                display=_text(row, "DESCRIPTION"),
                value=value,
                unit=_text(row, "UNITS"),
                date=_date(row, table.date, required=True),
                end_date=None if table.end is None else _date(row, table.end, required=False),
                hpo_ids=hpo_ids,
                mondo_id=mondo_id,
            )
        except ValidationError as exc:  # in practice: a resolver returned a malformed HPO id
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise _RowError(f"{where}: {error['msg']}", "CODE") from None

    def _case(self, path: Path, patient: _Patient, deid: DeidConfig) -> Case:
        at = patient.death or patient.last_encounter
        age = None if at is None else _age(patient.birth, at)
        onsets: dict[str, float] = {}  # HPO id -> age at the earliest condition mapped to it
        for finding in patient.findings:
            if finding.hpo_ids and finding.date is not None:
                onset = _age(patient.birth, finding.date)
                for hpo_id in finding.hpo_ids:
                    onsets[hpo_id] = min(onsets.get(hpo_id, onset), onset)
        phenotypes = [
            PhenotypeObservation(id=hpo_id, onset_age_years=age if -1 <= age <= 150 else None)
            for hpo_id, age in onsets.items()
        ]
        terms = self.context.terms
        record_id = pseudonymous_id(deid.secret, patient.record_id)
        case = Case(
            id=Case.stable_id(FORMAT, record_id),
            external_id=record_id,
            subject=Subject(
                sex=patient.sex,
                age_years=age if age is not None and 0 <= age <= 150 else None,
                birth_year=patient.birth.year,
                deceased=patient.death is not None,
            ),
            phenotypes=phenotypes,
            # dates move by the patient's keyed shift (ages and onsets were computed before)
            findings=shift_findings(
                patient.findings, deid.secret.get_secret_value(), record_id, deid
            ),
            site=self.context.site,
            provenance=Provenance(
                source=str(path),
                source_format=FORMAT,
                record_id=record_id,
                record_hash=patient.hasher.hexdigest(),
                created_by=self.context.created_by,
                knowledge_version=None if terms is None else terms.version,
                parameters={
                    **self._counts(patient),
                    "dates": "shifted per patient (keyed), intervals kept",
                },
            ),
        )
        return top_code_ages(case)

    @staticmethod
    def _counts(patient: _Patient) -> dict[str, Any]:
        counts = {"skipped_rows": patient.skipped_rows, "withheld_values": patient.withheld_values}
        return {key: value for key, value in counts.items() if value}

    @staticmethod
    def _reject(exc: _RowError, file: str, line: int) -> InvalidRecordError:
        return InvalidRecordError(str(exc), source=file, record=f"line {line}", field=exc.column)
