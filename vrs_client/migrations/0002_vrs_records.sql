-- The VRS records: persons, vaccinations, issuance history, audit log, data keys (issue 3).
--
-- Personal data never appear in plain here: My Number is an HMAC (lookup) plus an AES-256-GCM
-- ciphertext, name / birth date / sex / ticket number / passport items are ciphertexts made in
-- Python (vrs_client/_crypto.py). What stays plain is what SQL must compare or purge on and what
-- identifies nobody on its own: municipality code, address number (the municipality's internal
-- key), status, dose number, vaccination date, product, lot, issuance metadata (PIA items ㊸ ㊹).

-- Roles are cluster-wide: create the application role only once.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'certsvc_app') THEN
        CREATE ROLE certsvc_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT;
    END IF;
    -- The schema owner (the migrating login) must be able to SET ROLE certsvc_app.
    IF NOT pg_has_role(current_user, 'certsvc_app', 'MEMBER') THEN
        EXECUTE format('GRANT certsvc_app TO %I', current_user);
    END IF;
END
$$;

-- Per-municipality data keys, wrapped (AES-256-GCM, AAD = municipality code) by the master key.
CREATE TABLE data_keys (
    municipality_code  char(6) PRIMARY KEY REFERENCES municipalities (code),
    -- version byte ‖ nonce ‖ wrapped key ‖ tag
    wrapped_key        bytea NOT NULL CHECK (length(wrapped_key) = 61),
    -- Identifies the master key that wrapped it (HMAC of a fixed label under that key).
    master_key_id      bytea NOT NULL CHECK (length(master_key_id) = 8),
    created_at         timestamptz NOT NULL,
    rewrapped_at       timestamptz
);

CREATE TABLE persons (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_code  char(6) NOT NULL REFERENCES municipalities (code),
    -- 宛名番号: the municipality's internal person key.
    address_number     varchar(15) NOT NULL CHECK (address_number ~ '^[0-9]{1,15}$'),
    -- HMAC-SHA-256(lookup key, My Number): the lookup handle.
    my_number_hmac     bytea NOT NULL CHECK (length(my_number_hmac) = 32),
    my_number_enc      bytea NOT NULL,
    ticket_number_enc  bytea NOT NULL,
    name_enc           bytea NOT NULL,
    birth_date_enc     bytea NOT NULL,
    sex_enc            bytea NOT NULL,
    status             text NOT NULL CHECK (status IN ('resident', 'moved_out', 'deceased')),
    -- Keyed digest (HMAC, lookup key) of the imported row: equal digests mean nothing to update.
    row_digest         bytea NOT NULL CHECK (length(row_digest) = 32),
    -- Keyed digest of the items a certificate shows about the person (name, birth date, sex).
    identity_digest    bytea NOT NULL CHECK (length(identity_digest) = 32),
    -- SHA-256 of identity_digest and the vaccination rows (record_digest below): what a
    -- certificate was made from. Changes whenever those change; record_version counts changes.
    record_digest      bytea NOT NULL CHECK (length(record_digest) = 32),
    record_version     integer NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    UNIQUE (municipality_code, address_number),
    UNIQUE (municipality_code, my_number_hmac),
    -- Target of the children's (person, municipality) keys: a row of one municipality can never
    -- point at a person of another, even by a guessed id.
    UNIQUE (id, municipality_code)
);

CREATE TABLE vaccinations (
    person_id          bigint NOT NULL,
    municipality_code  char(6) NOT NULL REFERENCES municipalities (code),
    dose_number        smallint NOT NULL CHECK (dose_number BETWEEN 1 AND 99),
    -- Plain on purpose: a date alone identifies no one, and the retention purge (≥ 5 years from
    -- the vaccination) must select on it in SQL.
    vaccinated_on      date NOT NULL,
    product            text NOT NULL CHECK (product IN ('COMIRNATY', 'COMIRNATY_BIVALENT',
                           'SPIKEVAX', 'SPIKEVAX_BIVALENT', 'VAXZEVRIA', 'NUVAXOVID', 'JCOVDEN')),
    lot_number         text NOT NULL CHECK (lot_number ~ '^[A-Za-z0-9-]{1,20}$'),
    PRIMARY KEY (person_id, dose_number),
    FOREIGN KEY (person_id, municipality_code) REFERENCES persons (id, municipality_code)
        ON DELETE CASCADE
);
CREATE INDEX vaccinations_purge ON vaccinations (municipality_code, vaccinated_on);

CREATE TABLE issuances (
    certificate_id     char(12) PRIMARY KEY CHECK (certificate_id ~ '^[A-Z2-7]{12}$'),
    municipality_code  char(6) NOT NULL REFERENCES municipalities (code),
    -- NULL once the person was deleted: the issuance log (items ㊸ ㊹) and the CRL stay.
    person_id          bigint,
    issued_at          timestamptz NOT NULL,
    channel            text NOT NULL CHECK (channel IN ('app', 'kiosk', 'counter')),
    kind               text NOT NULL CHECK (kind IN ('domestic', 'abroad')),
    rid                text NOT NULL CHECK (rid ~ '^[A-Za-z0-9_-]{1,64}$'),
    kid                text NOT NULL CHECK (kid ~ '^[A-Za-z0-9_-]{1,128}$'),
    -- persons.record_digest when the certificate was made: a reprint after a correction is refused.
    records_digest     bytea NOT NULL CHECK (length(records_digest) = 32),
    -- Ciphertext of the passport items (romanized name, nationality, number, expiry, other name).
    passport_enc       bytea,
    copies             smallint NOT NULL CHECK (copies BETWEEN 1 AND 99),
    fee_yen            integer NOT NULL CHECK (fee_yen BETWEEN 0 AND 1000000),
    voided_at          timestamptz,
    void_reason        text CHECK (void_reason ~ '^[a-z][a-z0-9_]{0,63}$'),
    revoked_at         timestamptz,
    revoke_reason      text CHECK (revoke_reason ~ '^[a-z][a-z0-9_]{0,63}$'),
    FOREIGN KEY (person_id, municipality_code) REFERENCES persons (id, municipality_code)
        ON DELETE SET NULL (person_id),
    CHECK (kind = 'abroad' OR passport_enc IS NULL),
    CHECK ((voided_at IS NULL) = (void_reason IS NULL)),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
);
CREATE INDEX issuances_person ON issuances (person_id, issued_at);
CREATE INDEX issuances_purge ON issuances (municipality_code, issued_at);

-- The CRL source. Revocation status is not personal data (the CRL publishes it), so this table is
-- not partitioned: the public CRL endpoint reads it without entering any municipality. Filled only
-- by the trigger below, so it cannot drift from the issuance history.
CREATE TABLE revocations (
    certificate_id     char(12) PRIMARY KEY,
    kid                text NOT NULL,
    rid                text NOT NULL,
    revoked_at         timestamptz NOT NULL
);
CREATE INDEX revocations_kid ON revocations (kid, revoked_at);

CREATE FUNCTION issuances_publish_revocation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO revocations (certificate_id, kid, rid, revoked_at)
    VALUES (NEW.certificate_id, NEW.kid, NEW.rid, NEW.revoked_at)
    ON CONFLICT (certificate_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER issuances_revoked AFTER UPDATE OF revoked_at ON issuances
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION issuances_publish_revocation();

-- Audit log. Rows are inserted unchained (seq, prev_hash, hash NULL) so that an issuance never
-- waits on the chain's tail; the chainer (vrs_client/_audit.py) gives them the next consecutive
-- seq of their municipality and links them: hash = SHA-256(prev_hash ‖ canonical row bytes).
-- Never a My Number, passport number, name or birth date: codes only, and no 12-digit runs.
CREATE TABLE audit_events (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality_code  char(6) NOT NULL REFERENCES municipalities (code),
    seq                bigint,
    at                 timestamptz NOT NULL,
    actor              text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200
                                            AND actor !~ '[0-9]{12}'),
    action             text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]{0,63}$'),
    address_number     varchar(15) CHECK (address_number ~ '^[0-9]{1,15}$'),
    reason             text CHECK (reason ~ '^[a-z][a-z0-9_.]{0,63}$'),
    outcome            text NOT NULL CHECK (outcome ~ '^[a-z][a-z0-9_.]{0,63}$'),
    prev_hash          bytea CHECK (length(prev_hash) = 32),
    hash               bytea CHECK (length(hash) = 32),
    CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL)),
    UNIQUE (municipality_code, seq)
);
CREATE INDEX audit_events_unchained ON audit_events (municipality_code, id) WHERE seq IS NULL;
CREATE INDEX audit_events_purge ON audit_events (municipality_code, at);

-- Append-only: a chained row never changes; an unchained one only gets its link.
CREATE FUNCTION audit_events_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.hash IS NOT NULL
       OR (NEW.id, NEW.municipality_code, NEW.at, NEW.actor, NEW.action, NEW.address_number,
           NEW.reason, NEW.outcome)
          IS DISTINCT FROM
          (OLD.id, OLD.municipality_code, OLD.at, OLD.actor, OLD.action, OLD.address_number,
           OLD.reason, OLD.outcome) THEN
        RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_guard();

-- Per municipality: where the chain ends (the chainer continues from here; the verifier checks the
-- last row against it, so a deleted tail is seen) and what the retention purge removed from its
-- head (the first kept row must link to purged_hash).
CREATE TABLE audit_checkpoints (
    municipality_code    char(6) PRIMARY KEY REFERENCES municipalities (code),
    chained_through_seq  bigint NOT NULL DEFAULT 0,
    chained_hash         bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000',
    purged_through_seq   bigint NOT NULL DEFAULT 0,
    purged_hash          bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'
);

-- What a certificate is made from: the identity items' digest and the doses, canonically
-- (one line per dose, in dose order). Callers aggregate the lines set-based:
--   record_digest(p.identity_digest,
--                 array_agg(vaccination_line(v.*) ORDER BY v.dose_number) FILTER (...))
CREATE FUNCTION vaccination_line(p_dose smallint, p_on date, p_product text, p_lot text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT p_dose::text || '|' || to_char(p_on, 'YYYY-MM-DD') || '|' || p_product || '|' || p_lot
$$;
CREATE FUNCTION record_digest(p_identity_digest bytea, p_lines text[]) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(p_identity_digest
                  || convert_to(coalesce(array_to_string(p_lines, E'\n'), ''), 'UTF8'))
$$;

-- Partition per municipality (DESIGN §6): enabled and forced, so the table owner is bound too.
ALTER TABLE data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY data_keys_partition ON data_keys
    USING (municipality_code = current_setting('vrs.municipality_code', true)::bpchar)
    WITH CHECK (municipality_code = current_setting('vrs.municipality_code', true)::bpchar);

ALTER TABLE persons ENABLE ROW LEVEL SECURITY;
ALTER TABLE persons FORCE ROW LEVEL SECURITY;
CREATE POLICY persons_partition ON persons
    USING (municipality_code = current_setting('vrs.municipality_code', true)::bpchar)
    WITH CHECK (municipality_code = current_setting('vrs.municipality_code', true)::bpchar);

ALTER TABLE vaccinations ENABLE ROW LEVEL SECURITY;
ALTER TABLE vaccinations FORCE ROW LEVEL SECURITY;
CREATE POLICY vaccinations_partition ON vaccinations
    USING (municipality_code = current_setting('vrs.municipality_code', true)::bpchar)
    WITH CHECK (municipality_code = current_setting('vrs.municipality_code', true)::bpchar);

ALTER TABLE issuances ENABLE ROW LEVEL SECURITY;
ALTER TABLE issuances FORCE ROW LEVEL SECURITY;
CREATE POLICY issuances_partition ON issuances
    USING (municipality_code = current_setting('vrs.municipality_code', true)::bpchar)
    WITH CHECK (municipality_code = current_setting('vrs.municipality_code', true)::bpchar);

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_partition ON audit_events
    USING (municipality_code = current_setting('vrs.municipality_code', true)::bpchar)
    WITH CHECK (municipality_code = current_setting('vrs.municipality_code', true)::bpchar);

ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_checkpoints_partition ON audit_checkpoints
    USING (municipality_code = current_setting('vrs.municipality_code', true)::bpchar)
    WITH CHECK (municipality_code = current_setting('vrs.municipality_code', true)::bpchar);

-- Least privilege for the application role: no TRUNCATE, no DDL, nothing owned.
GRANT USAGE ON SCHEMA public TO certsvc_app;
GRANT SELECT ON municipalities TO certsvc_app;
GRANT SELECT, INSERT, UPDATE ON data_keys TO certsvc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON persons TO certsvc_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON vaccinations TO certsvc_app;
GRANT SELECT, INSERT, DELETE ON issuances TO certsvc_app;
GRANT UPDATE (person_id, passport_enc, voided_at, void_reason, revoked_at, revoke_reason)
    ON issuances TO certsvc_app;
GRANT SELECT, INSERT, DELETE ON revocations TO certsvc_app;
GRANT SELECT, INSERT, DELETE ON audit_events TO certsvc_app;
GRANT UPDATE (seq, prev_hash, hash) ON audit_events TO certsvc_app;
GRANT SELECT, INSERT, UPDATE ON audit_checkpoints TO certsvc_app;
