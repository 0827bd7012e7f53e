"""The VRS store on PostgreSQL: vaccination records, issuance history, audit log.

The only package that talks to PostgreSQL about vaccination data. Knows nothing of HTTP or Redis.

Every table holding personal data is partitioned per municipality by row-level security;
`VrsStore.scoped(code)` opens the one kind of transaction the application uses (role
`certsvc_app`, partition `code`); `VrsStore.statements(code)` gives an issuance's lookup and write
as two single-statement calls that enter the same scope themselves. Personal fields are
AES-256-GCM ciphertexts under a data key per municipality (wrapped by the master key); My Number
is looked up by its HMAC under the lookup key.
"""

from vrs_client._audit import (
    AUDIT_PAGE_MAX,
    SERVICE_CHAIN,
    canonical_audit_row,
    chain_audit_events,
    chain_service_audit_events,
    list_audit_events,
    record_audit_event,
    record_service_audit_event,
    verify_audit_chain,
    verify_service_audit_chain,
)
from vrs_client._checks import (
    is_valid_municipality_code,
    is_valid_my_number,
    municipality_check_digit,
    my_number_check_digit,
)
from vrs_client._crl import get_shc_crl, list_crl_versions
from vrs_client._crypto import FieldCipher, KeyRing
from vrs_client._errors import VrsError, VrsErrorCode, is_store_unavailable
from vrs_client._import import (
    ENCODINGS,
    PERSON_COLUMNS,
    VACCINATION_COLUMNS,
    ImportResult,
    ImportSummary,
    Rejection,
    RejectReason,
    import_files,
    write_rejections,
)
from vrs_client._keys import enter_scope, rotate_master_key
from vrs_client._maintenance import EXPORT_COLUMNS, export_csv, purge
from vrs_client._migrations import Migration, apply_migrations, list_migrations
from vrs_client._store import (
    FoundPerson,
    IssuanceStatements,
    VrsStore,
    VrsTransaction,
    get_municipality,
    list_municipalities,
    list_revoked_rids,
    pool_reset,
    scoped_transaction,
)
from vrs_client._types import (
    AuditChainProblem,
    AuditChainReport,
    AuditEntry,
    AuditEvent,
    Channel,
    DeleteOutcome,
    Issuance,
    IssuanceKind,
    IssuanceOutcome,
    IssuanceRecord,
    IssuanceSignatures,
    Municipality,
    MunicipalitySeed,
    PassportItems,
    Person,
    PersonStatus,
    Product,
    PurgeSummary,
    RevokedRid,
    RevokeOutcome,
    ShcCrlState,
    Vaccination,
    VoidOutcome,
)

__all__ = [
    "AUDIT_PAGE_MAX",
    "ENCODINGS",
    "EXPORT_COLUMNS",
    "PERSON_COLUMNS",
    "SERVICE_CHAIN",
    "VACCINATION_COLUMNS",
    "AuditChainProblem",
    "AuditChainReport",
    "AuditEntry",
    "AuditEvent",
    "Channel",
    "DeleteOutcome",
    "FieldCipher",
    "FoundPerson",
    "ImportResult",
    "ImportSummary",
    "Issuance",
    "IssuanceKind",
    "IssuanceOutcome",
    "IssuanceRecord",
    "IssuanceSignatures",
    "IssuanceStatements",
    "KeyRing",
    "Migration",
    "Municipality",
    "MunicipalitySeed",
    "PassportItems",
    "Person",
    "PersonStatus",
    "Product",
    "PurgeSummary",
    "RejectReason",
    "Rejection",
    "RevokeOutcome",
    "RevokedRid",
    "ShcCrlState",
    "Vaccination",
    "VoidOutcome",
    "VrsError",
    "VrsErrorCode",
    "VrsStore",
    "VrsTransaction",
    "apply_migrations",
    "canonical_audit_row",
    "chain_audit_events",
    "chain_service_audit_events",
    "enter_scope",
    "export_csv",
    "get_municipality",
    "get_shc_crl",
    "import_files",
    "is_store_unavailable",
    "is_valid_municipality_code",
    "is_valid_my_number",
    "list_audit_events",
    "list_crl_versions",
    "list_migrations",
    "list_municipalities",
    "list_revoked_rids",
    "municipality_check_digit",
    "my_number_check_digit",
    "pool_reset",
    "purge",
    "record_audit_event",
    "record_service_audit_event",
    "rotate_master_key",
    "scoped_transaction",
    "verify_audit_chain",
    "verify_service_audit_chain",
    "write_rejections",
]
