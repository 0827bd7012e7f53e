"""certsvc's own PostgreSQL queries (DESIGN §2): staff accounts and terminals. Everything about
vaccination data goes through `vrs_client`."""
