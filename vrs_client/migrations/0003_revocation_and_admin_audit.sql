-- Revocation lists kept in the database, and the audit of admin actions (issue 12).
--
-- (1) The `ctr` of every SHC revocation list lives here, so that every node serves the same CRL
--     and the same `crlVersion`, and a public GET writes nothing. A key without a row has never
--     changed its list: ctr 1, no rids (SHC: ctr starts at 1). Each revocation (one insert by
--     the issuance trigger) and each purge of old entries (one delete statement) bumps the ctr
--     of the keys it touches by one, in the same transaction as the change.
-- (2) Audit rows may say what an admin action touched (`detail`: counts, a key id, never personal
--     data), and actions of no municipality (key and master-key rotation) go to a service-wide
--     chain with the same hash-chain rules as the per-municipality ones.

CREATE TABLE shc_crls (
    kid                text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,128}$'),
    -- ctr of the key's list (an absent row means 1).
    ctr                bigint NOT NULL CHECK (ctr >= 2),
    changed_at         timestamptz NOT NULL
);

-- Statement-level, so that a purge deleting many entries is one change. Concurrent changes of
-- one key queue on its row: ctr never goes down or repeats, and a rolled-back change leaves it.
CREATE FUNCTION revocations_bump_crl() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO shc_crls AS c (kid, ctr, changed_at)
    SELECT DISTINCT kid, 2, now() FROM changed_rows
    ON CONFLICT (kid) DO UPDATE SET ctr = c.ctr + 1, changed_at = now();
    RETURN NULL;
END
$$;
CREATE TRIGGER revocations_added AFTER INSERT ON revocations
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revocations_bump_crl();
CREATE TRIGGER revocations_removed AFTER DELETE ON revocations
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION revocations_bump_crl();

-- What an admin action touched: `key=value` items separated by spaces (counts, a kid, a
-- certificate id). Never a 12-digit run (a My Number cannot slip in).
ALTER TABLE audit_events ADD COLUMN detail text
    CHECK (detail ~ '^[A-Za-z0-9_.:=,-]+( [A-Za-z0-9_.:=,-]+)*$' AND length(detail) <= 500
           AND detail !~ '[0-9]{12}');

CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.hash IS NOT NULL
       OR (NEW.id, NEW.municipality_code, NEW.at, NEW.actor, NEW.action, NEW.address_number,
           NEW.reason, NEW.outcome, NEW.detail)
          IS DISTINCT FROM
          (OLD.id, OLD.municipality_code, OLD.at, OLD.actor, OLD.action, OLD.address_number,
           OLD.reason, OLD.outcome, OLD.detail) THEN
        RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

-- The service-wide chain: the same columns without municipality or person.
CREATE TABLE service_audit_events (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq                bigint UNIQUE,
    at                 timestamptz NOT NULL,
    actor              text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200
                                            AND actor !~ '[0-9]{12}'),
    action             text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
    reason             text CHECK (reason ~ '^[a-z][a-z0-9_.]{0,63}$'),
    outcome            text NOT NULL CHECK (outcome ~ '^[a-z][a-z0-9_.]{0,63}$'),
    detail             text
        CHECK (detail ~ '^[A-Za-z0-9_.:=,-]+( [A-Za-z0-9_.:=,-]+)*$' AND length(detail) <= 500
               AND detail !~ '[0-9]{12}'),
    prev_hash          bytea CHECK (length(prev_hash) = 32),
    hash               bytea CHECK (length(hash) = 32),
    CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL))
);
CREATE INDEX service_audit_events_unchained ON service_audit_events (id) WHERE seq IS NULL;

CREATE FUNCTION service_audit_events_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.hash IS NOT NULL
       OR (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.reason, NEW.outcome, NEW.detail)
          IS DISTINCT FROM
          (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.reason, OLD.outcome, OLD.detail) THEN
        RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER service_audit_events_append_only BEFORE UPDATE ON service_audit_events
    FOR EACH ROW EXECUTE FUNCTION service_audit_events_guard();

-- One row: where the service chain ends and what a purge removed from its head.
CREATE TABLE service_audit_checkpoint (
    singleton            boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    chained_through_seq  bigint NOT NULL DEFAULT 0,
    chained_hash         bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    purged_through_seq   bigint NOT NULL DEFAULT 0,
    purged_hash          bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'
);

GRANT SELECT, INSERT, UPDATE ON shc_crls TO certsvc_app;
GRANT SELECT, INSERT ON service_audit_events TO certsvc_app;
GRANT UPDATE (seq, prev_hash, hash) ON service_audit_events TO certsvc_app;
GRANT SELECT, INSERT, UPDATE ON service_audit_checkpoint TO certsvc_app;
