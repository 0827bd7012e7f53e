"""The VRS store on PostgreSQL: vaccination records, issuance history, audit log.

The only package that talks to PostgreSQL about vaccination data. Knows nothing of HTTP or Redis.
"""

from vrs_client._migrations import Migration, apply_migrations, list_migrations

__all__ = ["Migration", "apply_migrations", "list_migrations"]
