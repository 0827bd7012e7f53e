-- The city counter (issue 11 §3): staff accounts, their municipalities, counter terminals, and the
-- audit log's counter fields.
--
-- Staff accounts are service-wide (not partitioned per municipality): an account is granted one
-- or more municipalities. Passwords are argon2id hashes (argon2-cffi's PHC string); terminals are
-- known by the SHA-256 of their cookie and of their one-time enrolment token, never the values.

CREATE TABLE staff_accounts (
    -- A personal ID (or a named shared exception); lower case; never a 12-digit run, so that it
    -- can be an audit actor.
    staff_id              text PRIMARY KEY CHECK (staff_id ~ '^[a-z0-9][a-z0-9._-]{1,31}$'
                                                  AND staff_id !~ '[0-9]{12}'),
    role                  text NOT NULL CHECK (role IN ('counter_staff', 'contractor',
                                                        'supervisor', 'administrator')),
    password_hash         text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    must_change_password  boolean NOT NULL DEFAULT true,
    -- Last day (JST) the account may sign in.
    expires_on            date NOT NULL,
    contract_end          date,
    shared                boolean NOT NULL DEFAULT false,
    created_by            text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
    created_at            timestamptz NOT NULL,
    -- Set when an administrator expired the account.
    expired_at            timestamptz,
    expired_by            text,
    -- A session belongs to the generation it was opened in: a password reset or an expiry moves
    -- it on, which ends every session of the account.
    session_generation    integer NOT NULL DEFAULT 0,
    last_sign_in_at       timestamptz,
    password_changed_at   timestamptz,
    -- A contractor's account ends with the contract; only contractors have a contract end.
    CHECK ((role = 'contractor') = (contract_end IS NOT NULL)),
    CHECK (contract_end IS NULL OR expires_on <= contract_end),
    CHECK ((expired_at IS NULL) = (expired_by IS NULL))
);

CREATE TABLE staff_municipalities (
    staff_id           text NOT NULL REFERENCES staff_accounts (staff_id) ON DELETE CASCADE,
    municipality_code  char(6) NOT NULL REFERENCES municipalities (code),
    PRIMARY KEY (staff_id, municipality_code)
);

CREATE TABLE terminals (
    terminal_id        text PRIMARY KEY CHECK (terminal_id ~ '^[A-Za-z0-9_-]{8,64}$'),
    name               text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64
                                                   AND name !~ '[0-9]{12}'),
    -- SHA-256 of the one-time enrolment token; NULL once used.
    enrol_token_hash   bytea UNIQUE CHECK (length(enrol_token_hash) = 32),
    enrol_expires_at   timestamptz,
    -- SHA-256 of the long-lived terminal cookie; NULL until enrolled.
    cookie_hash        bytea UNIQUE CHECK (length(cookie_hash) = 32),
    enrolled_at        timestamptz,
    created_by         text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
    created_at         timestamptz NOT NULL,
    CHECK ((enrol_token_hash IS NULL) = (enrol_expires_at IS NULL))
);

-- The terminals a shared ID may sign in from (a shared ID signs in from these alone).
CREATE TABLE staff_terminals (
    staff_id     text NOT NULL REFERENCES staff_accounts (staff_id) ON DELETE CASCADE,
    terminal_id  text NOT NULL REFERENCES terminals (terminal_id),
    PRIMARY KEY (staff_id, terminal_id)
);

-- The audit log's counter fields. NULL on every earlier row, whose chained bytes stay as they
-- were (vrs_client/_audit.py canonical_audit_row adds these four only when one is set).
ALTER TABLE audit_events
    ADD COLUMN actor_role text CHECK (actor_role ~ '^[a-z][a-z0-9_.]{0,63}$'),
    ADD COLUMN terminal text CHECK (length(terminal) BETWEEN 1 AND 64 AND terminal !~ '[0-9]{12}'),
    ADD COLUMN identity_method text CHECK (identity_method ~ '^[a-z][a-z0-9_.]{0,63}$'),
    ADD COLUMN subject text CHECK (length(subject) BETWEEN 1 AND 64 AND subject !~ '[0-9]{12}');
-- The audit review filters by municipality and time: audit_events_purge (municipality_code, at)
-- of migration 0002 serves it.

-- The append-only guard now covers every column but the three the chainer sets, whatever columns
-- the table has (these four, and any a later migration adds): a row compared as JSON, less its
-- link, must not change.
CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.hash IS NOT NULL
       OR (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
          IS DISTINCT FROM (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
        RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

-- The service's login runs as certsvc_app: it reads and maintains accounts and terminals, and
-- deletes nothing (an account is expired, never removed: the review and the audit log name it).
GRANT SELECT, INSERT, UPDATE ON staff_accounts TO certsvc_app;
GRANT SELECT, INSERT ON staff_municipalities TO certsvc_app;
GRANT SELECT, INSERT, UPDATE ON terminals TO certsvc_app;
GRANT SELECT, INSERT ON staff_terminals TO certsvc_app;
