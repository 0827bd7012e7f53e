"""Filler persons generated straight into the database, to measure lookups at sizes an import
would take hours to reach (10 M persons). Each filler person has the columns of a real one —
random-looking HMAC, ciphertext-sized blobs, digests — and four doses, so every index and the
tables grow as a real population would; none of them can be decrypted or found by a My Number.

Before writing, `fill_persons` checks the free disk beside the data directory: it writes a first
chunk, measures bytes and seconds per person, and stops with a message saying how much disk and
time the rest would take when that is more than the disk has free or the caller allows.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vrs_client._conn import Conn

# A filler address number never collides with synthetic residents' (up to 10 digits there).
_ADDRESS_BASE = 500_000_000_000
_CHUNK = 250_000
# Ciphertext sizes of the real fields: version 1 + nonce 12 + plaintext + tag 16.
_q_fill_persons = """
WITH p AS (
    INSERT INTO persons (municipality_code, address_number, my_number_hmac, my_number_enc,
        ticket_number_enc, name_enc, birth_date_enc, sex_enc, status, row_digest,
        identity_digest, record_digest, created_at, updated_at)
    SELECT $1, ($2::bigint + g)::text, h,
           '\\x01'::bytea || h || substr(sha256(h || '\\x01'::bytea), 1, 8),
           '\\x01'::bytea || h || substr(sha256(h || '\\x02'::bytea), 1, 6),
           '\\x01'::bytea || h || substr(sha256(h || '\\x03'::bytea), 1, 12),
           '\\x01'::bytea || h || substr(sha256(h || '\\x04'::bytea), 1, 6),
           '\\x01'::bytea || substr(sha256(h || '\\x05'::bytea), 1, 29),
           'resident', sha256(h || '\\x06'::bytea), sha256(h || '\\x07'::bytea),
           sha256(h || '\\x08'::bytea), $5, $5
    FROM (SELECT g, sha256(int8send(g) || $6::bytea) AS h
          FROM generate_series($3::bigint, $4::bigint) g) s
    RETURNING id, municipality_code
)
INSERT INTO vaccinations (person_id, municipality_code, dose_number, vaccinated_on, product,
                          lot_number)
SELECT p.id, p.municipality_code, d::smallint,
       date '2021-03-01' + (p.id % 200)::int + d * 60, 'COMIRNATY', 'FB' || (p.id % 9000)
FROM p CROSS JOIN generate_series(1, 4) d
"""
_q_database_size = "SELECT pg_database_size(current_database())"
_q_data_directory = "SELECT setting FROM pg_settings WHERE name = 'data_directory'"


@dataclass
class FillEstimate:
    persons: int
    bytes_needed: int
    bytes_free: int | None
    seconds: float

    def describe(self) -> str:
        free = "unknown" if self.bytes_free is None else f"{self.bytes_free / 1e9:.1f} GB"
        return (
            f"{self.persons:,} more filler persons need ≈ {self.bytes_needed / 1e9:.2f} GB "
            f"(free beside the data directory: {free}) and ≈ {self.seconds / 60:.1f} min"
        )


async def _free_bytes(conn: Conn, data_dir: Path | None) -> int | None:
    if data_dir is None:
        # The server's own data directory, when it is on this machine.
        setting = await conn.fetchval(_q_data_directory)
        data_dir = Path(setting) if setting and Path(setting).exists() else None
    if data_dir is None:
        return None
    return shutil.disk_usage(data_dir).free


async def fill_persons(
    conn: Conn,
    *,
    count: int,
    municipality_codes: list[str],
    first: int,
    now: datetime,
    data_dir: Path | None = None,
    max_minutes: float,
    salt: bytes = b"certsvc-bench",
) -> FillEstimate | None:
    """Add `count` filler persons (numbered from `first`, spread over `municipality_codes`)
    with four doses each. Returns None when done; the estimate, having written only the first
    chunk, when the rest needs more disk than is free (keeping 10 % spare) or more than
    `max_minutes`. Prints progress with an ETA to standard error."""
    done = 0
    started = time.perf_counter()
    size0 = int(await conn.fetchval(_q_database_size))
    while done < count:
        n = min(_CHUNK, count - done)
        code = municipality_codes[(done // _CHUNK) % len(municipality_codes)]
        lo, hi = first + done, first + done + n - 1
        async with conn.transaction():
            await conn.execute(_q_fill_persons, code, _ADDRESS_BASE, lo, hi, now, salt)
        done += n
        elapsed = time.perf_counter() - started
        per_person_s = elapsed / done
        if done == n and done < count:
            # (1) after the first chunk: is there room and time for the rest?
            grown = int(await conn.fetchval(_q_database_size)) - size0
            rest = count - done
            estimate = FillEstimate(
                persons=rest,
                bytes_needed=int(grown / done * rest),
                bytes_free=await _free_bytes(conn, data_dir),
                seconds=per_person_s * rest,
            )
            print(f"  fill: {estimate.describe()}", file=sys.stderr)
            too_big = (
                estimate.bytes_free is not None
                and estimate.bytes_needed > 0.9 * estimate.bytes_free
            )
            if too_big or estimate.seconds > max_minutes * 60:
                return estimate
        eta = per_person_s * (count - done)
        print(
            f"  fill: {done:,}/{count:,} persons, {done / elapsed:,.0f}/s, ETA {eta / 60:.1f} min",
            file=sys.stderr,
        )
    await conn.execute("ANALYZE persons")
    await conn.execute("ANALYZE vaccinations")
    return None
