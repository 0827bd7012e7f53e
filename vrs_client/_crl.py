"""The SHC revocation lists as the database holds them: the same on every node, read-only.

The rids come from `revocations` (filled by the issuance trigger); the `ctr` of each key's list
from `shc_crls`, bumped by the database in the transaction that changes the list (migration
0003). A key whose list never changed has ctr 1 and no rids.
"""

from __future__ import annotations

from collections.abc import Sequence

from vrs_client._conn import Conn, fetch_one
from vrs_client._types import ShcCrlState

# One statement, one snapshot: the ctr and the rids always belong together.
_q_get_shc_crl = """
SELECT coalesce((SELECT ctr FROM shc_crls WHERE kid = $1), 1),
       coalesce((SELECT array_agg(rid ORDER BY revoked_at, rid) FROM revocations
                 WHERE kid = $1), '{}')
"""
_q_list_crl_versions = """
SELECT k.kid, coalesce(c.ctr, 1) FROM unnest($1::text[]) AS k(kid)
LEFT JOIN shc_crls c ON c.kid = k.kid
"""


async def get_shc_crl(conn: Conn, *, kid: str) -> ShcCrlState:
    """The revocation list of one SHC key (ctr 1 and no rids when it never changed). Whether
    `kid` is one of the service's keys is the caller's question: the database knows no keys."""
    ctr, rids = await fetch_one(conn, _q_get_shc_crl, kid)
    return ShcCrlState(kid=kid, ctr=ctr, rids=list(rids))


async def list_crl_versions(conn: Conn, *, kids: Sequence[str]) -> dict[str, int]:
    """The `ctr` of each key's list, for the JWKS's `crlVersion` (1 for a key never changed)."""
    return {r[0]: r[1] for r in await conn.fetch(_q_list_crl_versions, list(kids))}
