"""Import of the municipal CSV files (contracts §4, DESIGN §6).

(1) Stream each file; validate every row in Python; HMAC and encrypt the person fields; copy the
    resulting rows in binary into TEMP staging tables. Plaintext personal data never reach
    PostgreSQL, not even staging; the importer holds one plaintext row at a time.
(2) Per municipality, the checks that need the database: a My Number already held by another
    person, vaccinations of persons known neither to the file nor to the store.
(3) `--strict`: stop here, applying nothing, if anything was rejected.
(4) Per municipality, one transaction: merge set-based. A person row whose keyed digest is equal
    is not touched (re-importing a file changes nothing); a changed row is updated; new doses are
    added and changed doses updated; then record digests are recomputed and the issuances made from
    corrected data (changed name, birth date or sex, or a changed existing dose) are revoked with
    `record_corrected`.

Decisions: dose numbers may have gaps (earlier doses may have been given in another
municipality, and each municipality certifies its own); a dose number twice in one file is
rejected (the second occurrence); doses absent from a file are kept (files may be incremental).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

import msgspec

from vrs_client._checks import is_valid_municipality_code, is_valid_my_number
from vrs_client._conn import Conn, fetch_one
from vrs_client._crypto import FieldCipher, KeyRing
from vrs_client._errors import VrsError, VrsErrorCode
from vrs_client._keys import enter_scope, get_data_key
from vrs_client._types import PersonStatus, Product

PERSON_COLUMNS = (
    "municipality_code",
    "address_number",
    "my_number",
    "ticket_number",
    "name",
    "birth_date",
    "sex",
    "status",
)
VACCINATION_COLUMNS = (
    "municipality_code",
    "address_number",
    "dose_number",
    "vaccinated_on",
    "product",
    "lot_number",
)
# The first COVID-19 vaccinations in Japan (healthcare workers).
FIRST_VACCINATION_DAY = date(2021, 2, 17)
_BATCH = 5000


class RejectReason(StrEnum):
    """Why an import row was rejected (the `reason` column of `<input>.rejected.csv`)."""

    ROW_MALFORMED = "row_malformed"
    """Not the header's number of fields."""
    MUNICIPALITY_CODE_INVALID = "municipality_code_invalid"
    """Not 6 digits with a valid check digit."""
    MUNICIPALITY_UNKNOWN = "municipality_unknown"
    """A valid code of a municipality this service does not serve."""
    ADDRESS_NUMBER_INVALID = "address_number_invalid"
    """Not 1–15 digits."""
    MY_NUMBER_INVALID = "my_number_invalid"
    """Not 12 digits, or a wrong check digit."""
    TICKET_NUMBER_INVALID = "ticket_number_invalid"
    """Not 10 digits."""
    NAME_INVALID = "name_invalid"
    """Not family and given name separated by exactly one U+3000 or U+0020."""
    BIRTH_DATE_INVALID = "birth_date_invalid"
    """Not a YYYY-MM-DD date from 1900-01-01 to the import day."""
    SEX_INVALID = "sex_invalid"
    """Not 1, 2, 9 or 0."""
    STATUS_INVALID = "status_invalid"
    """Not resident, moved_out or deceased."""
    DUPLICATE_ADDRESS_NUMBER = "duplicate_address_number"
    """The municipality's address number appeared on an earlier line of the file."""
    DUPLICATE_MY_NUMBER = "duplicate_my_number"
    """The My Number appeared on an earlier line of the file for the same municipality."""
    MY_NUMBER_TAKEN = "my_number_taken"
    """The store holds this My Number for another address number of the municipality."""
    DOSE_NUMBER_INVALID = "dose_number_invalid"
    """Not an integer 1–99 (no leading zero)."""
    VACCINATED_ON_INVALID = "vaccinated_on_invalid"
    """Not a YYYY-MM-DD date from 2021-02-17 to the import day."""
    PRODUCT_UNKNOWN = "product_unknown"
    """Not one of the seven products of contracts §4."""
    LOT_NUMBER_INVALID = "lot_number_invalid"
    """Not 1–20 characters of [A-Za-z0-9-]."""
    DUPLICATE_DOSE = "duplicate_dose"
    """The same person's dose number appeared on an earlier line of the file."""
    UNKNOWN_PERSON = "unknown_person"
    """A vaccination of a person in neither the persons file (valid rows) nor the store."""


class Rejection(msgspec.Struct, frozen=True, kw_only=True):
    line: int
    reason: RejectReason


class ImportSummary(msgspec.Struct, kw_only=True):
    """What an import did. `applied` is False when `strict` found a rejection."""

    applied: bool = True
    municipalities: int = 0
    persons_read: int = 0
    persons_rejected: int = 0
    persons_inserted: int = 0
    persons_updated: int = 0
    persons_unchanged: int = 0
    vaccinations_read: int = 0
    vaccinations_rejected: int = 0
    vaccinations_inserted: int = 0
    vaccinations_updated: int = 0
    vaccinations_unchanged: int = 0
    issuances_revoked: int = 0


class ImportResult(msgspec.Struct, kw_only=True):
    summary: ImportSummary
    person_rejections: list[Rejection]
    vaccination_rejections: list[Rejection]


_ADDRESS = re.compile(r"[0-9]{1,15}")
_TICKET = re.compile(r"[0-9]{10}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DOSE = re.compile(r"[1-9][0-9]?")
_LOT = re.compile(r"[A-Za-z0-9-]{1,20}")
# A name part: no whitespace, no control or separator characters.
_NAME_PART = re.compile(r"[^\s\x00-\x1f\x7f\u3000]{1,50}")
_SEXES = frozenset({"1", "2", "9", "0"})
_STATUSES = frozenset(s.value for s in PersonStatus)
_PRODUCTS = frozenset(p.value for p in Product)


def _parse_date(value: str, low: date, high: date) -> date | None:
    if _ISO_DATE.fullmatch(value) is None:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        return None
    return parsed if low <= parsed <= high else None


def normalize_name(value: str) -> str | None:
    """`family␣given` with one U+3000 or U+0020 → `family\\u3000given`; None if malformed."""
    for sep in ("\u3000", " "):
        family, found, given = value.partition(sep)
        if found:
            if _NAME_PART.fullmatch(family) and _NAME_PART.fullmatch(given):
                return f"{family}\u3000{given}"
            return None
    return None


#: Encodings `import_files` reads: UTF-8 (contracts §4; a BOM is skipped) and CP932, the
#: Windows superset of Shift_JIS that municipal systems export.
ENCODINGS = {"utf-8": "utf-8-sig", "cp932": "cp932", "shift_jis": "cp932"}


def _sniff_encoding(path: Path) -> str | None:
    """ "cp932" when the start of a file that is not UTF-8 reads as CP932 Japanese text."""
    try:
        with path.open("rb") as f:
            head = f.read(64 * 1024)
    except OSError:
        return None
    for cut in range(4):  # the sample may end inside a double-byte character
        try:
            text = head[: len(head) - cut].decode("cp932")
        except UnicodeDecodeError:
            continue
        return "cp932" if any(ord(ch) > 0x7F for ch in text) else None
    return None


def _header_problem(path: Path, header: list[str] | None, columns: tuple[str, ...]) -> str | None:
    """What is wrong with a header row, naming the columns (None if it is right)."""
    if header is None:
        return f"{path.name}: the file is empty; it needs the header row " + ",".join(columns)
    unexpected = [c for c in header if c not in columns]
    missing = [c for c in columns if c not in header]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if not (unexpected or missing or repeated):
        return None
    parts = []
    if unexpected:
        parts.append("unexpected column " + ", ".join(repr(c) for c in unexpected))
    if missing:
        parts.append("missing column " + ", ".join(missing))
    if repeated:
        parts.append("repeated column " + ", ".join(repeated))
    return (
        f"{path.name}: {'; '.join(parts)} in the header row (the columns are "
        f"{','.join(columns)}; see docs/import-format.md)"
    )


def count_rows(path: Path) -> int | None:
    """Data lines of a CSV file (lines after the header; a quoted line break counts twice, so
    this is an upper bound for the progress bar's total). None if the file cannot be read."""
    lines, last = 0, b"\n"
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None
    if last != b"\n":  # a last line without its line break
        lines += 1
    return max(lines - 1, 0)


def _records(
    path: Path, columns: tuple[str, ...], encoding: str = "utf-8"
) -> Iterator[tuple[int, list[str]]]:
    """(physical start line, fields) for each record of a contracts §4 CSV file."""
    codec = ENCODINGS.get(encoding)
    if codec is None:
        raise VrsError(
            VrsErrorCode.IMPORT_FILE_UNREADABLE,
            f"unknown encoding {encoding!r} (use one of {', '.join(ENCODINGS)})",
        )
    line = 1
    try:
        with path.open(encoding=codec, newline="") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            problem = _header_problem(path, header, columns)
            if problem is not None or header is None:
                raise VrsError(VrsErrorCode.IMPORT_HEADER_INVALID, problem)
            order = [header.index(c) for c in columns]
            previous_end = reader.line_num
            for fields in reader:
                start = previous_end + 1
                previous_end = line = reader.line_num
                if not fields:
                    continue
                if len(fields) != len(columns):
                    yield start, []
                    continue
                yield start, [fields[i] for i in order]
    except UnicodeDecodeError:
        hint = (
            "it reads as Shift_JIS/CP932: run again with --encoding cp932"
            if encoding == "utf-8" and _sniff_encoding(path) == "cp932"
            else "convert it to UTF-8 (or CP932 with --encoding cp932)"
        )
        raise VrsError(
            VrsErrorCode.IMPORT_FILE_UNREADABLE,
            f"{path.name}: not {encoding.upper()} text (after line {line}); {hint}",
        ) from None
    except csv.Error:
        raise VrsError(
            VrsErrorCode.IMPORT_FILE_UNREADABLE,
            f"{path.name}: not CSV after line {line} (an unclosed quote or a NUL byte)",
        ) from None
    except FileNotFoundError:
        raise VrsError(VrsErrorCode.IMPORT_FILE_UNREADABLE, f"{path}: no such file") from None
    except OSError as exc:
        raise VrsError(VrsErrorCode.IMPORT_FILE_UNREADABLE, f"{path}: {exc.strerror}") from None


# --- staging ----------------------------------------------------------------------------------

_q_create_staging = """
DROP TABLE IF EXISTS vrs_stage_persons, vrs_stage_vaccinations, vrs_touched, vrs_new;
CREATE TEMP TABLE vrs_stage_persons (
    line int NOT NULL, municipality_code char(6) NOT NULL, address_number varchar(15) NOT NULL,
    my_number_hmac bytea NOT NULL, my_number_enc bytea NOT NULL, ticket_number_enc bytea NOT NULL,
    name_enc bytea NOT NULL, birth_date_enc bytea NOT NULL, sex_enc bytea NOT NULL,
    status text NOT NULL, row_digest bytea NOT NULL, identity_digest bytea NOT NULL
);
CREATE TEMP TABLE vrs_stage_vaccinations (
    line int NOT NULL, municipality_code char(6) NOT NULL, address_number varchar(15) NOT NULL,
    dose_number smallint NOT NULL, vaccinated_on date NOT NULL, product text NOT NULL,
    lot_number text NOT NULL
);
CREATE TEMP TABLE vrs_touched (person_id bigint PRIMARY KEY, corrected boolean NOT NULL);
CREATE TEMP TABLE vrs_new (address_number varchar(15) PRIMARY KEY, person_id bigint NOT NULL);
"""
_q_drop_staging = (
    "DROP TABLE IF EXISTS vrs_stage_persons, vrs_stage_vaccinations, vrs_touched, vrs_new"
)
_q_index_staging = """
CREATE INDEX ON vrs_stage_persons (municipality_code, address_number);
CREATE INDEX ON vrs_stage_vaccinations (municipality_code, address_number);
ANALYZE vrs_stage_persons; ANALYZE vrs_stage_vaccinations;
"""
_STAGE_PERSON_COLUMNS = [
    "line",
    "municipality_code",
    "address_number",
    "my_number_hmac",
    "my_number_enc",
    "ticket_number_enc",
    "name_enc",
    "birth_date_enc",
    "sex_enc",
    "status",
    "row_digest",
    "identity_digest",
]
_STAGE_VACCINATION_COLUMNS = [
    "line",
    "municipality_code",
    "address_number",
    "dose_number",
    "vaccinated_on",
    "product",
    "lot_number",
]
_q_list_municipality_codes = "SELECT code FROM municipalities"

# --- (2) checks that need the store -----------------------------------------------------------

_q_reject_taken_my_numbers = """
WITH taken AS (
    DELETE FROM vrs_stage_persons s
    WHERE s.municipality_code = $1 AND EXISTS (
        SELECT 1 FROM persons p
        WHERE p.my_number_hmac = s.my_number_hmac AND p.address_number <> s.address_number)
    RETURNING s.line
)
SELECT line FROM taken
"""
_q_reject_unknown_persons = """
WITH unknown AS (
    DELETE FROM vrs_stage_vaccinations s
    WHERE s.municipality_code = $1
      AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.address_number = s.address_number)
      AND NOT EXISTS (SELECT 1 FROM vrs_stage_persons sp
                      WHERE sp.municipality_code = s.municipality_code
                        AND sp.address_number = s.address_number)
    RETURNING s.line
)
SELECT line FROM unknown
"""

# --- (4) merge --------------------------------------------------------------------------------

# Two imports of one municipality at once would both insert the same new persons (one fails on
# the unique key after doing all its work) or interleave their digests: the transaction-scoped
# advisory lock runs them one after the other. Key: "vrs\0" ‖ municipality code as a number.
_q_lock_municipality_import = "SELECT pg_advisory_xact_lock(($1::bigint) + 8246975155404800)"
_q_update_changed_persons = """
WITH changed AS (
    SELECT p.id, p.identity_digest <> s.identity_digest AS corrected, s.*
    FROM vrs_stage_persons s JOIN persons p ON p.address_number = s.address_number
    WHERE s.municipality_code = $1 AND p.row_digest <> s.row_digest
), updated AS (
    UPDATE persons p SET my_number_hmac = c.my_number_hmac, my_number_enc = c.my_number_enc,
        ticket_number_enc = c.ticket_number_enc, name_enc = c.name_enc,
        birth_date_enc = c.birth_date_enc, sex_enc = c.sex_enc, status = c.status,
        row_digest = c.row_digest, identity_digest = c.identity_digest, updated_at = $2
    FROM changed c WHERE p.id = c.id
    RETURNING p.id
), touched AS (
    INSERT INTO vrs_touched (person_id, corrected) SELECT id, corrected FROM changed
)
SELECT count(*) FROM updated
"""
# New persons arrive with their final record digest, computed from their staged doses (a new
# person has no other doses): no second write of every new row to refresh it. They go to
# vrs_new, not vrs_touched: nothing to refresh, no issuance to revoke.
_q_insert_new_persons = """
WITH doses AS (
    SELECT s.address_number,
           array_agg(vaccination_line(s.dose_number, s.vaccinated_on, s.product, s.lot_number)
                     ORDER BY s.dose_number) AS lines
    FROM vrs_stage_vaccinations s
    WHERE s.municipality_code = $1
    GROUP BY s.address_number
), inserted AS (
    INSERT INTO persons (municipality_code, address_number, my_number_hmac, my_number_enc,
        ticket_number_enc, name_enc, birth_date_enc, sex_enc, status, row_digest,
        identity_digest, record_digest, created_at, updated_at)
    SELECT s.municipality_code, s.address_number, s.my_number_hmac, s.my_number_enc,
        s.ticket_number_enc, s.name_enc, s.birth_date_enc, s.sex_enc, s.status, s.row_digest,
        s.identity_digest, record_digest(s.identity_digest, d.lines), $2, $2
    FROM vrs_stage_persons s LEFT JOIN doses d ON d.address_number = s.address_number
    WHERE s.municipality_code = $1
      AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.address_number = s.address_number)
    RETURNING id, address_number
), new AS (
    INSERT INTO vrs_new (address_number, person_id) SELECT address_number, id FROM inserted
)
SELECT count(*) FROM inserted
"""
_q_analyze_new = "ANALYZE vrs_new"
# The doses of new persons: plain inserts, nothing to compare them with.
_q_insert_new_vaccinations = """
INSERT INTO vaccinations (person_id, municipality_code, dose_number, vaccinated_on, product,
                          lot_number)
SELECT n.person_id, s.municipality_code, s.dose_number, s.vaccinated_on, s.product, s.lot_number
FROM vrs_stage_vaccinations s JOIN vrs_new n ON n.address_number = s.address_number
WHERE s.municipality_code = $1
"""
_q_merge_vaccinations = """
WITH src AS (
    SELECT p.id AS person_id, s.municipality_code, s.dose_number, s.vaccinated_on, s.product,
           s.lot_number
    FROM vrs_stage_vaccinations s JOIN persons p ON p.address_number = s.address_number
    WHERE s.municipality_code = $1
      AND NOT EXISTS (SELECT 1 FROM vrs_new n WHERE n.address_number = s.address_number)
), corrected AS (
    SELECT DISTINCT v.person_id
    FROM vaccinations v JOIN src ON src.person_id = v.person_id
                                AND src.dose_number = v.dose_number
    WHERE (v.vaccinated_on, v.product, v.lot_number)
          IS DISTINCT FROM (src.vaccinated_on, src.product, src.lot_number)
), upserted AS (
    INSERT INTO vaccinations (person_id, municipality_code, dose_number, vaccinated_on, product,
                              lot_number)
    SELECT person_id, municipality_code, dose_number, vaccinated_on, product, lot_number FROM src
    ON CONFLICT (person_id, dose_number) DO UPDATE
        SET vaccinated_on = EXCLUDED.vaccinated_on, product = EXCLUDED.product,
            lot_number = EXCLUDED.lot_number
        WHERE (vaccinations.vaccinated_on, vaccinations.product, vaccinations.lot_number)
              IS DISTINCT FROM (EXCLUDED.vaccinated_on, EXCLUDED.product, EXCLUDED.lot_number)
    RETURNING person_id, (xmax = 0) AS inserted
), touched AS (
    INSERT INTO vrs_touched (person_id, corrected)
    SELECT u.person_id, bool_or(u.person_id IN (SELECT person_id FROM corrected))
    FROM upserted u GROUP BY u.person_id
    ON CONFLICT (person_id) DO UPDATE SET corrected = vrs_touched.corrected OR EXCLUDED.corrected
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""
_q_refresh_record_digests = """
UPDATE persons p SET record_digest = d.digest, record_version = p.record_version + 1,
    updated_at = $1
FROM (
    SELECT q.id, record_digest(q.identity_digest,
               array_agg(vaccination_line(v.dose_number, v.vaccinated_on, v.product, v.lot_number)
                         ORDER BY v.dose_number) FILTER (WHERE v.person_id IS NOT NULL)) AS digest
    FROM vrs_touched t JOIN persons q ON q.id = t.person_id
    LEFT JOIN vaccinations v ON v.person_id = q.id
    GROUP BY q.id, q.identity_digest
) d
WHERE p.id = d.id AND p.record_digest <> d.digest
"""
_q_revoke_corrected = """
WITH revoked AS (
    UPDATE issuances i SET revoked_at = $1, revoke_reason = 'record_corrected'
    FROM vrs_touched t JOIN persons p ON p.id = t.person_id
    WHERE t.corrected AND i.person_id = t.person_id AND i.revoked_at IS NULL
      AND i.voided_at IS NULL AND i.records_digest <> p.record_digest
    RETURNING p.address_number
), audited AS (
    INSERT INTO audit_events (municipality_code, at, actor, action, address_number, reason,
                              outcome)
    SELECT $2, $1, $3, 'issuance.revoke', address_number, 'record_corrected', 'revoked'
    FROM revoked
)
SELECT count(*) FROM revoked
"""
_q_record_import_event = """
INSERT INTO audit_events (municipality_code, at, actor, action, reason, outcome, detail)
VALUES ($1, $2, $3, 'vrs.import', NULL, 'applied', $4)
"""
_q_clear_touched = "TRUNCATE vrs_touched, vrs_new"


class _Importer:
    encoding = "utf-8"
    """Of the input files: a key of `ENCODINGS`."""

    def __init__(
        self,
        conn: Conn,
        keys: KeyRing,
        *,
        today: date,
        tick: Callable[[int], object],
    ) -> None:
        self.conn = conn
        self.keys = keys
        self.today = today
        self.tick = tick
        self.known_codes: set[str] = set()
        self.codes_seen: set[str] = set()
        self.summary = ImportSummary()
        self.person_rejections: list[Rejection] = []
        self.vaccination_rejections: list[Rejection] = []
        self._code_checks: dict[str, RejectReason | None] = {}
        self.staged_doses: dict[str, int] = {}
        """Vaccination rows staged per municipality (before the store's checks)."""
        self._pending_copy: asyncio.Future[str] | None = None

    async def cipher(self, code: str) -> FieldCipher:
        cipher = self.keys.cached(code)
        if cipher is None:
            await self.flush()  # the connection serves one command at a time
            async with self.conn.transaction():
                await enter_scope(self.conn, municipality_code=code)
                cipher, _ = await get_data_key(self.conn, self.keys, municipality_code=code)
            self.keys.remember(cipher)  # committed
        return cipher

    def _check_code(self, code: str) -> RejectReason | None:
        # A file holds few distinct codes: each is checked once (check digit, known).
        try:
            return self._code_checks[code]
        except KeyError:
            pass
        reason = None
        if not is_valid_municipality_code(code):
            reason = RejectReason.MUNICIPALITY_CODE_INVALID
        elif code not in self.known_codes:
            reason = RejectReason.MUNICIPALITY_UNKNOWN
        if len(self._code_checks) < 10_000:
            self._code_checks[code] = reason
        return reason

    async def stage_persons(self, path: Path) -> set[tuple[str, str]]:
        """(1) for persons.csv; returns the (municipality, address number) keys staged."""
        staged: set[tuple[str, str]] = set()
        my_numbers: set[tuple[str, bytes]] = set()
        batch: list[tuple[Any, ...]] = []
        reject = self.person_rejections.append
        for line, fields in _records(path, PERSON_COLUMNS, self.encoding):
            self.summary.persons_read += 1
            self.tick(1)
            if not fields:
                reject(Rejection(line=line, reason=RejectReason.ROW_MALFORMED))
                continue
            code, address, my_number, ticket, raw_name, raw_birth, sex, status = fields
            reason = self._check_code(code)
            name = normalize_name(raw_name)
            birth = _parse_date(raw_birth, date(1900, 1, 1), self.today)
            if reason is not None:
                pass
            elif _ADDRESS.fullmatch(address) is None:
                reason = RejectReason.ADDRESS_NUMBER_INVALID
            elif not is_valid_my_number(my_number):
                reason = RejectReason.MY_NUMBER_INVALID
            elif _TICKET.fullmatch(ticket) is None:
                reason = RejectReason.TICKET_NUMBER_INVALID
            elif name is None:
                reason = RejectReason.NAME_INVALID
            elif birth is None:
                reason = RejectReason.BIRTH_DATE_INVALID
            elif sex not in _SEXES:
                reason = RejectReason.SEX_INVALID
            elif status not in _STATUSES:
                reason = RejectReason.STATUS_INVALID
            elif (code, address) in staged:
                reason = RejectReason.DUPLICATE_ADDRESS_NUMBER
            if reason is not None or name is None:
                reject(Rejection(line=line, reason=reason or RejectReason.NAME_INVALID))
                continue
            lookup = self.keys.my_number_hmac(my_number)
            if (code, lookup) in my_numbers:
                reject(Rejection(line=line, reason=RejectReason.DUPLICATE_MY_NUMBER))
                continue
            staged.add((code, address))
            my_numbers.add((code, lookup))
            self.codes_seen.add(code)
            cipher = self.keys.cached(code) or await self.cipher(code)
            enc_my_number, enc_ticket, enc_name, enc_birth, enc_sex = cipher.encrypt_row(
                "persons",
                address,
                (
                    ("my_number", my_number.encode()),
                    ("ticket_number", ticket.encode()),
                    ("name", name.encode()),
                    ("birth_date", raw_birth.encode()),
                    ("sex", sex.encode()),
                ),
            )
            batch.append(
                (
                    line,
                    code,
                    address,
                    lookup,
                    enc_my_number,
                    enc_ticket,
                    enc_name,
                    enc_birth,
                    enc_sex,
                    status,
                    self.keys.keyed_digest(
                        "vrs.person-row",
                        (code, address, my_number, ticket, name, raw_birth, sex, status),
                    ),
                    self.keys.keyed_digest("vrs.person-identity", (name, raw_birth, sex)),
                )
            )
            if len(batch) >= _BATCH:
                await self._copy("vrs_stage_persons", batch, _STAGE_PERSON_COLUMNS)
        await self._copy("vrs_stage_persons", batch, _STAGE_PERSON_COLUMNS)
        await self.flush()
        return staged

    async def stage_vaccinations(self, path: Path) -> None:
        """(1) for vaccinations.csv (nothing here is encrypted: see the migration's comments)."""
        doses: set[tuple[str, str, int]] = set()
        dates: dict[str, date | None] = {}
        batch: list[tuple[Any, ...]] = []
        reject = self.vaccination_rejections.append
        for line, fields in _records(path, VACCINATION_COLUMNS, self.encoding):
            self.summary.vaccinations_read += 1
            self.tick(1)
            if not fields:
                reject(Rejection(line=line, reason=RejectReason.ROW_MALFORMED))
                continue
            code, address, raw_dose, raw_on, product, lot = fields
            reason = self._check_code(code)
            # Vaccination days repeat across a file: each distinct text is parsed once.
            try:
                on = dates[raw_on]
            except KeyError:
                on = _parse_date(raw_on, FIRST_VACCINATION_DAY, self.today)
                if len(dates) < 100_000:
                    dates[raw_on] = on
            if reason is not None:
                pass
            elif _ADDRESS.fullmatch(address) is None:
                reason = RejectReason.ADDRESS_NUMBER_INVALID
            elif _DOSE.fullmatch(raw_dose) is None:
                reason = RejectReason.DOSE_NUMBER_INVALID
            elif on is None:
                reason = RejectReason.VACCINATED_ON_INVALID
            elif product not in _PRODUCTS:
                reason = RejectReason.PRODUCT_UNKNOWN
            elif _LOT.fullmatch(lot) is None:
                reason = RejectReason.LOT_NUMBER_INVALID
            elif (key := (code, address, int(raw_dose))) in doses:
                reason = RejectReason.DUPLICATE_DOSE
            if reason is not None:
                reject(Rejection(line=line, reason=reason))
                continue
            doses.add(key)
            self.codes_seen.add(code)
            self.staged_doses[code] = self.staged_doses.get(code, 0) + 1
            batch.append((line, code, address, key[2], on, product, lot))
            if len(batch) >= _BATCH:
                await self._copy("vrs_stage_vaccinations", batch, _STAGE_VACCINATION_COLUMNS)
        await self._copy("vrs_stage_vaccinations", batch, _STAGE_VACCINATION_COLUMNS)
        await self.flush()

    async def _copy(self, table: str, batch: list[tuple[Any, ...]], columns: list[str]) -> None:
        """Send `batch` to `table` while the next batch is prepared: PostgreSQL stores one batch
        on the other core while Python validates and encrypts the next (one COPY in flight)."""
        await self.flush()
        if batch:
            records = list(batch)
            batch.clear()
            self._pending_copy = asyncio.ensure_future(
                self.conn.copy_records_to_table(table, records=records, columns=columns)
            )
            # Let the COPY start sending before the caller goes back to CPU work.
            await asyncio.sleep(0)

    async def flush(self) -> None:
        """Wait for the COPY in flight, if any (its error, if any, is raised here)."""
        pending, self._pending_copy = self._pending_copy, None
        if pending is not None:
            await pending

    async def settle(self) -> None:
        """After a failure while staging: let the COPY in flight end, whatever its outcome, so
        the connection is free for the clean-up (the first failure is the one reported)."""
        with contextlib.suppress(Exception):
            await self.flush()

    async def check(self) -> None:
        """(2)"""
        await self.conn.execute(_q_index_staging)
        for code in sorted(self.codes_seen):
            async with self.conn.transaction():
                await enter_scope(self.conn, municipality_code=code)
                for r in await self.conn.fetch(_q_reject_taken_my_numbers, code):
                    self.person_rejections.append(
                        Rejection(line=r[0], reason=RejectReason.MY_NUMBER_TAKEN)
                    )
                for r in await self.conn.fetch(_q_reject_unknown_persons, code):
                    self.vaccination_rejections.append(
                        Rejection(line=r[0], reason=RejectReason.UNKNOWN_PERSON)
                    )
            self.tick(1)

    async def merge(self, *, now: datetime, actor: str) -> None:
        """(4)"""
        s = self.summary
        for code in sorted(self.codes_seen):
            async with self.conn.transaction():
                await enter_scope(self.conn, municipality_code=code)
                await self.conn.execute(_q_lock_municipality_import, int(code))
                await self.conn.execute(_q_clear_touched)
                persons_updated = await self.conn.fetchval(_q_update_changed_persons, code, now)
                persons_inserted = await self.conn.fetchval(_q_insert_new_persons, code, now)
                await self.conn.execute(_q_analyze_new)
                status = await self.conn.execute(_q_insert_new_vaccinations, code)
                new_doses = int(status.rsplit(" ", 1)[1])
                inserted, updated = new_doses, 0
                # Every staged dose went to a new person (a first load): nothing to compare.
                if new_doses < self.staged_doses.get(code, 0):
                    merged, updated = await fetch_one(self.conn, _q_merge_vaccinations, code)
                    inserted += merged
                await self.conn.execute(_q_refresh_record_digests, now)
                revoked = await self.conn.fetchval(_q_revoke_corrected, now, code, actor)
                # What this import changed in this municipality (counts only).
                detail = (
                    f"persons_inserted={persons_inserted} persons_updated={persons_updated} "
                    f"vaccinations_inserted={inserted} vaccinations_updated={updated} "
                    f"issuances_revoked={revoked}"
                )
                await self.conn.execute(_q_record_import_event, code, now, actor, detail)
            s.persons_updated += persons_updated
            s.persons_inserted += persons_inserted
            s.vaccinations_inserted += inserted
            s.vaccinations_updated += updated
            s.issuances_revoked += revoked
            s.municipalities += 1
            self.tick(1)


_q_set_app_role = "SET ROLE certsvc_app"
_q_reset_role = "RESET ROLE"


@contextlib.asynccontextmanager
async def _as_app_role(conn: Conn) -> AsyncIterator[None]:
    """The whole import runs as `certsvc_app` (staging tables included), partitions set per
    transaction."""
    await conn.execute(_q_set_app_role)
    try:
        await conn.execute(_q_create_staging)
        try:
            yield
        finally:
            await conn.execute(_q_drop_staging)
    finally:
        await conn.execute(_q_reset_role)


def write_rejections(path: Path, rejections: list[Rejection]) -> Path:
    """Write `<input>.rejected.csv` (`line,reason`; nothing from the rejected row itself)."""
    out = path.with_name(path.name + ".rejected.csv")
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["line", "reason"])
        for r in sorted(rejections, key=lambda r: r.line):
            writer.writerow([r.line, r.reason.value])
    return out


class ImportProgress:
    """The import's progress on a terminal: one tqdm bar per phase, with its total and an ETA.
    Phases: `<persons file>: validate+encrypt+copy` (rows; each row is validated, encrypted and
    batched for the binary copy as it is read, so that one plaintext row at a time is held),
    `<vaccinations file>: validate+copy`, `check` and `merge` (municipalities)."""

    def __init__(self, *, enabled: bool, file: TextIO | None = None) -> None:
        self.enabled = enabled
        self.file = file or sys.stderr
        self._bar: Any = None

    def phase(self, name: str, total: int | None) -> None:
        from tqdm import tqdm

        self.close()
        self._bar = tqdm(
            total=total,
            unit=" rows" if total is None or "csv" in name else " municipalities",
            unit_scale=total is None or total >= 10_000,  # 1.20M/3.50M rather than 1200000
            disable=not self.enabled,
            file=self.file,
            desc=name,
            dynamic_ncols=True,
        )

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


async def import_files(
    conn: Conn,
    keys: KeyRing,
    *,
    persons: Path,
    vaccinations: Path | None = None,
    strict: bool = False,
    now: datetime,
    actor: str = "vrs-import",
    progress: bool = False,
    progress_file: TextIO | None = None,
    write_reports: bool = True,
    encoding: str = "utf-8",
) -> ImportResult:
    """Import persons.csv (and vaccinations.csv) as described in the module docstring. Writes
    `<input>.rejected.csv` beside each input when `write_reports`. `encoding` is a key of
    `ENCODINGS`. Raises `VrsError` (`IMPORT_HEADER_INVALID`, `IMPORT_FILE_UNREADABLE`, with a
    message naming the file and the column or line) for a file that cannot be read at all;
    nothing is applied then."""
    today = now.date()
    bar = ImportProgress(enabled=progress, file=progress_file)
    try:
        imp = _Importer(conn, keys, today=today, tick=bar.advance)
        imp.encoding = encoding
        imp.known_codes = {r[0] for r in await conn.fetch(_q_list_municipality_codes)}
        async with _as_app_role(conn):
            try:
                bar.phase(f"{persons.name}: validate+encrypt+copy", count_rows(persons))
                await imp.stage_persons(persons)
                if vaccinations is not None:
                    bar.phase(f"{vaccinations.name}: validate+copy", count_rows(vaccinations))
                    await imp.stage_vaccinations(vaccinations)
            finally:
                await imp.settle()
            bar.phase("check", len(imp.codes_seen))
            await imp.check()
            s = imp.summary
            s.persons_rejected = len(imp.person_rejections)
            s.vaccinations_rejected = len(imp.vaccination_rejections)
            if strict and (s.persons_rejected or s.vaccinations_rejected):
                s.applied = False
            else:
                bar.phase("merge", len(imp.codes_seen))
                await imp.merge(now=now, actor=actor)
                s.persons_unchanged = (
                    s.persons_read - s.persons_rejected - s.persons_inserted - s.persons_updated
                )
                s.vaccinations_unchanged = (
                    s.vaccinations_read
                    - s.vaccinations_rejected
                    - s.vaccinations_inserted
                    - s.vaccinations_updated
                )
    finally:
        bar.close()
    if write_reports:
        write_rejections(persons, imp.person_rejections)
        if vaccinations is not None:
            write_rejections(vaccinations, imp.vaccination_rejections)
    return ImportResult(
        summary=imp.summary,
        person_rejections=sorted(imp.person_rejections, key=lambda r: r.line),
        vaccination_rejections=sorted(imp.vaccination_rejections, key=lambda r: r.line),
    )
