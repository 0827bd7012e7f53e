-- Reference schema: the migrations applied to an empty database (pg_dump
-- --schema-only --no-owner, normalised). Regenerate with UPDATE_SCHEMA_SQL=1.

CREATE FUNCTION public.audit_events_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF OLD.hash IS NOT NULL
       OR (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
          IS DISTINCT FROM (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
        RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE FUNCTION public.issuances_publish_revocation() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO revocations (certificate_id, kid, rid, revoked_at)
    VALUES (NEW.certificate_id, NEW.kid, NEW.rid, NEW.revoked_at)
    ON CONFLICT (certificate_id) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.record_digest(p_identity_digest bytea, p_lines text[]) RETURNS bytea
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT sha256(p_identity_digest
                  || convert_to(coalesce(array_to_string(p_lines, E'\n'), ''), 'UTF8'))
$$;

CREATE FUNCTION public.revocations_bump_crl() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO shc_crls AS c (kid, ctr, changed_at)
    SELECT DISTINCT kid, 2, now() FROM changed_rows
    ON CONFLICT (kid) DO UPDATE SET ctr = c.ctr + 1, changed_at = now();
    RETURN NULL;
END
$$;

CREATE FUNCTION public.service_audit_events_guard() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION public.vaccination_line(p_dose smallint, p_on date, p_product text, p_lot text) RETURNS text
    LANGUAGE sql STABLE
    AS $$
    SELECT p_dose::text || '|' || to_char(p_on, 'YYYY-MM-DD') || '|' || p_product || '|' || p_lot
$$;

CREATE FUNCTION public.vrs_issuance_lookup(p_municipality_code text, p_my_number_hmac bytea, p_address_number text, p_with_abroad_passport boolean) RETURNS TABLE(person_id bigint, address_number text, name_enc bytea, birth_date_enc bytea, sex_enc bytea, status text, record_digest bytea, record_version integer, doses smallint[], dates date[], products text[], lots text[], passport_certificate_id text, passport_enc bytea)
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_person bigint;
BEGIN
    PERFORM set_config('role', 'certsvc_app', true),
            set_config('vrs.municipality_code', p_municipality_code, true);
    IF p_my_number_hmac IS NOT NULL THEN
        SELECT p.id INTO v_person FROM persons p WHERE p.my_number_hmac = p_my_number_hmac;
    ELSE
        SELECT p.id INTO v_person FROM persons p WHERE p.address_number = p_address_number;
    END IF;
    IF v_person IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT p.id, p.address_number::text, p.name_enc, p.birth_date_enc, p.sex_enc, p.status,
           p.record_digest, p.record_version, v.doses, v.dates, v.products, v.lots,
           a.certificate_id::text, a.passport_enc
    FROM persons p
    LEFT JOIN LATERAL (
        SELECT array_agg(x.dose_number ORDER BY x.dose_number) AS doses,
               array_agg(x.vaccinated_on ORDER BY x.dose_number) AS dates,
               array_agg(x.product ORDER BY x.dose_number) AS products,
               array_agg(x.lot_number ORDER BY x.dose_number) AS lots
        FROM vaccinations x WHERE x.person_id = p.id
    ) v ON true
    LEFT JOIN LATERAL (
        SELECT i.certificate_id, i.passport_enc FROM issuances i
        WHERE p_with_abroad_passport AND i.person_id = p.id AND i.kind = 'abroad'
          AND i.voided_at IS NULL AND i.passport_enc IS NOT NULL
        ORDER BY i.issued_at DESC, i.certificate_id DESC LIMIT 1
    ) a ON true
    WHERE p.id = v_person;
END
$$;

CREATE FUNCTION public.vrs_record_issuance(p_certificate_id text, p_municipality_code text, p_person_id bigint, p_issued_at timestamp with time zone, p_channel text, p_kind text, p_rid text, p_kid text, p_records_digest bytea, p_passport_enc bytea, p_copies smallint, p_fee_yen integer, p_signatures_enc bytea, p_audit_at timestamp with time zone, p_actor text, p_action text, p_address_number text, p_reason text, p_outcome text, p_actor_role text, p_terminal text, p_identity_method text, p_subject text) RETURNS TABLE(person_found bigint, issued bigint, audited bigint)
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM set_config('role', 'certsvc_app', true),
            set_config('vrs.municipality_code', p_municipality_code, true);
    RETURN QUERY
    WITH person AS (
        SELECT p.id FROM persons p WHERE p.id = p_person_id
    ), written AS (
        INSERT INTO issuances AS i (certificate_id, municipality_code, person_id, issued_at,
                                    channel, kind, rid, kid, records_digest, passport_enc, copies,
                                    fee_yen, signatures_enc)
        SELECT p_certificate_id, p_municipality_code, person.id, p_issued_at, p_channel, p_kind,
               p_rid, p_kid, p_records_digest, p_passport_enc, p_copies, p_fee_yen,
               p_signatures_enc
        FROM person
        ON CONFLICT (certificate_id) DO NOTHING
        RETURNING i.certificate_id
    ), audited AS (
        INSERT INTO audit_events AS e (municipality_code, at, actor, action, address_number,
                                       reason, outcome, actor_role, terminal, identity_method,
                                       subject)
        SELECT p_municipality_code, p_audit_at, p_actor, p_action, p_address_number, p_reason,
               p_outcome, p_actor_role, p_terminal, p_identity_method, p_subject
        FROM written WHERE p_audit_at IS NOT NULL
        RETURNING e.id
    )
    SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM written),
           (SELECT count(*) FROM audited);
END
$$;

CREATE TABLE public.audit_checkpoints (
    municipality_code character(6) NOT NULL,
    chained_through_seq bigint DEFAULT 0 NOT NULL,
    chained_hash bytea DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea NOT NULL,
    purged_through_seq bigint DEFAULT 0 NOT NULL,
    purged_hash bytea DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea NOT NULL
);

ALTER TABLE ONLY public.audit_checkpoints FORCE ROW LEVEL SECURITY;

CREATE TABLE public.audit_events (
    id bigint NOT NULL,
    municipality_code character(6) NOT NULL,
    seq bigint,
    at timestamp with time zone NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    address_number character varying(15),
    reason text,
    outcome text NOT NULL,
    prev_hash bytea,
    hash bytea,
    detail text,
    actor_role text,
    terminal text,
    identity_method text,
    subject text,
    CONSTRAINT audit_events_action_check CHECK ((action ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    CONSTRAINT audit_events_actor_check CHECK ((((length(actor) >= 1) AND (length(actor) <= 200)) AND (actor !~ '[0-9]{12}'::text))),
    CONSTRAINT audit_events_actor_role_check CHECK ((actor_role ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    CONSTRAINT audit_events_address_number_check CHECK (((address_number)::text ~ '^[0-9]{1,15}$'::text)),
    CONSTRAINT audit_events_check CHECK ((((seq IS NULL) = (hash IS NULL)) AND ((seq IS NULL) = (prev_hash IS NULL)))),
    CONSTRAINT audit_events_detail_check CHECK (((detail ~ '^[A-Za-z0-9_.:=,-]+( [A-Za-z0-9_.:=,-]+)*$'::text) AND (length(detail) <= 500) AND (detail !~ '[0-9]{12}'::text))),
    CONSTRAINT audit_events_hash_check CHECK ((length(hash) = 32)),
    CONSTRAINT audit_events_identity_method_check CHECK ((identity_method ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    CONSTRAINT audit_events_outcome_check CHECK ((outcome ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    CONSTRAINT audit_events_prev_hash_check CHECK ((length(prev_hash) = 32)),
    CONSTRAINT audit_events_reason_check CHECK ((reason ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    CONSTRAINT audit_events_subject_check CHECK ((((length(subject) >= 1) AND (length(subject) <= 64)) AND (subject !~ '[0-9]{12}'::text))),
    CONSTRAINT audit_events_terminal_check CHECK ((((length(terminal) >= 1) AND (length(terminal) <= 64)) AND (terminal !~ '[0-9]{12}'::text)))
);

ALTER TABLE ONLY public.audit_events FORCE ROW LEVEL SECURITY;

ALTER TABLE public.audit_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.audit_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.data_keys (
    municipality_code character(6) NOT NULL,
    wrapped_key bytea NOT NULL,
    master_key_id bytea NOT NULL,
    created_at timestamp with time zone NOT NULL,
    rewrapped_at timestamp with time zone,
    CONSTRAINT data_keys_master_key_id_check CHECK ((length(master_key_id) = 8)),
    CONSTRAINT data_keys_wrapped_key_check CHECK ((length(wrapped_key) = 61))
);

ALTER TABLE ONLY public.data_keys FORCE ROW LEVEL SECURITY;

CREATE TABLE public.issuances (
    certificate_id character(12) NOT NULL,
    municipality_code character(6) NOT NULL,
    person_id bigint,
    issued_at timestamp with time zone NOT NULL,
    channel text NOT NULL,
    kind text NOT NULL,
    rid text NOT NULL,
    kid text NOT NULL,
    records_digest bytea NOT NULL,
    passport_enc bytea,
    copies smallint NOT NULL,
    fee_yen integer NOT NULL,
    voided_at timestamp with time zone,
    void_reason text,
    revoked_at timestamp with time zone,
    revoke_reason text,
    signatures_enc bytea,
    CONSTRAINT issuances_certificate_id_check CHECK ((certificate_id ~ '^[A-Z2-7]{12}$'::text)),
    CONSTRAINT issuances_channel_check CHECK ((channel = ANY (ARRAY['app'::text, 'kiosk'::text, 'counter'::text]))),
    CONSTRAINT issuances_check CHECK (((kind = 'abroad'::text) OR (passport_enc IS NULL))),
    CONSTRAINT issuances_check1 CHECK (((voided_at IS NULL) = (void_reason IS NULL))),
    CONSTRAINT issuances_check2 CHECK (((revoked_at IS NULL) = (revoke_reason IS NULL))),
    CONSTRAINT issuances_copies_check CHECK (((copies >= 1) AND (copies <= 99))),
    CONSTRAINT issuances_fee_yen_check CHECK (((fee_yen >= 0) AND (fee_yen <= 1000000))),
    CONSTRAINT issuances_kid_check CHECK ((kid ~ '^[A-Za-z0-9_-]{1,128}$'::text)),
    CONSTRAINT issuances_kind_check CHECK ((kind = ANY (ARRAY['domestic'::text, 'abroad'::text]))),
    CONSTRAINT issuances_records_digest_check CHECK ((length(records_digest) = 32)),
    CONSTRAINT issuances_revoke_reason_check CHECK ((revoke_reason ~ '^[a-z][a-z0-9_]{0,63}$'::text)),
    CONSTRAINT issuances_rid_check CHECK ((rid ~ '^[A-Za-z0-9_-]{1,64}$'::text)),
    CONSTRAINT issuances_void_reason_check CHECK ((void_reason ~ '^[a-z][a-z0-9_]{0,63}$'::text))
);

ALTER TABLE ONLY public.issuances FORCE ROW LEVEL SECURITY;

CREATE TABLE public.municipalities (
    code character(6) NOT NULL,
    name_ja text NOT NULL,
    name_en text NOT NULL,
    app_enabled boolean DEFAULT true NOT NULL,
    kiosk_enabled boolean DEFAULT false NOT NULL,
    counter_enabled boolean DEFAULT true NOT NULL,
    kiosk_fee_yen integer DEFAULT 120 NOT NULL,
    kiosk_open time without time zone DEFAULT '06:30:00'::time without time zone NOT NULL,
    kiosk_close time without time zone DEFAULT '23:00:00'::time without time zone NOT NULL,
    CONSTRAINT municipalities_check CHECK ((kiosk_open < kiosk_close)),
    CONSTRAINT municipalities_code_check CHECK ((code ~ '^[0-9]{6}$'::text)),
    CONSTRAINT municipalities_kiosk_fee_yen_check CHECK (((kiosk_fee_yen >= 0) AND (kiosk_fee_yen <= 10000))),
    CONSTRAINT municipalities_name_en_check CHECK (((length(name_en) >= 1) AND (length(name_en) <= 64))),
    CONSTRAINT municipalities_name_ja_check CHECK (((length(name_ja) >= 1) AND (length(name_ja) <= 64)))
);

CREATE TABLE public.persons (
    id bigint NOT NULL,
    municipality_code character(6) NOT NULL,
    address_number character varying(15) NOT NULL,
    my_number_hmac bytea NOT NULL,
    my_number_enc bytea NOT NULL,
    ticket_number_enc bytea NOT NULL,
    name_enc bytea NOT NULL,
    birth_date_enc bytea NOT NULL,
    sex_enc bytea NOT NULL,
    status text NOT NULL,
    row_digest bytea NOT NULL,
    identity_digest bytea NOT NULL,
    record_digest bytea NOT NULL,
    record_version integer DEFAULT 1 NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    CONSTRAINT persons_address_number_check CHECK (((address_number)::text ~ '^[0-9]{1,15}$'::text)),
    CONSTRAINT persons_identity_digest_check CHECK ((length(identity_digest) = 32)),
    CONSTRAINT persons_my_number_hmac_check CHECK ((length(my_number_hmac) = 32)),
    CONSTRAINT persons_record_digest_check CHECK ((length(record_digest) = 32)),
    CONSTRAINT persons_row_digest_check CHECK ((length(row_digest) = 32)),
    CONSTRAINT persons_status_check CHECK ((status = ANY (ARRAY['resident'::text, 'moved_out'::text, 'deceased'::text])))
);

ALTER TABLE ONLY public.persons FORCE ROW LEVEL SECURITY;

ALTER TABLE public.persons ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.persons_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.revocations (
    certificate_id character(12) NOT NULL,
    kid text NOT NULL,
    rid text NOT NULL,
    revoked_at timestamp with time zone NOT NULL
);

CREATE TABLE public.schema_migration (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE public.service_audit_checkpoint (
    singleton boolean DEFAULT true NOT NULL,
    chained_through_seq bigint DEFAULT 0 NOT NULL,
    chained_hash bytea DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea NOT NULL,
    purged_through_seq bigint DEFAULT 0 NOT NULL,
    purged_hash bytea DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea NOT NULL,
    CONSTRAINT service_audit_checkpoint_singleton_check CHECK (singleton)
);

CREATE TABLE public.service_audit_events (
    id bigint NOT NULL,
    seq bigint,
    at timestamp with time zone NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    reason text,
    outcome text NOT NULL,
    detail text,
    prev_hash bytea,
    hash bytea,
    CONSTRAINT service_audit_events_action_check CHECK ((action ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    CONSTRAINT service_audit_events_actor_check CHECK ((((length(actor) >= 1) AND (length(actor) <= 200)) AND (actor !~ '[0-9]{12}'::text))),
    CONSTRAINT service_audit_events_check CHECK ((((seq IS NULL) = (hash IS NULL)) AND ((seq IS NULL) = (prev_hash IS NULL)))),
    CONSTRAINT service_audit_events_detail_check CHECK (((detail ~ '^[A-Za-z0-9_.:=,-]+( [A-Za-z0-9_.:=,-]+)*$'::text) AND (length(detail) <= 500) AND (detail !~ '[0-9]{12}'::text))),
    CONSTRAINT service_audit_events_hash_check CHECK ((length(hash) = 32)),
    CONSTRAINT service_audit_events_outcome_check CHECK ((outcome ~ '^[a-z][a-z0-9_.]{0,63}$'::text)),
    CONSTRAINT service_audit_events_prev_hash_check CHECK ((length(prev_hash) = 32)),
    CONSTRAINT service_audit_events_reason_check CHECK ((reason ~ '^[a-z][a-z0-9_.]{0,63}$'::text))
);

ALTER TABLE public.service_audit_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.service_audit_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE public.shc_crls (
    kid text NOT NULL,
    ctr bigint NOT NULL,
    changed_at timestamp with time zone NOT NULL,
    CONSTRAINT shc_crls_ctr_check CHECK ((ctr >= 2)),
    CONSTRAINT shc_crls_kid_check CHECK ((kid ~ '^[A-Za-z0-9_-]{1,128}$'::text))
);

CREATE TABLE public.staff_accounts (
    staff_id text NOT NULL,
    role text NOT NULL,
    password_hash text NOT NULL,
    must_change_password boolean DEFAULT true NOT NULL,
    expires_on date NOT NULL,
    contract_end date,
    shared boolean DEFAULT false NOT NULL,
    created_by text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    expired_at timestamp with time zone,
    expired_by text,
    session_generation integer DEFAULT 0 NOT NULL,
    last_sign_in_at timestamp with time zone,
    password_changed_at timestamp with time zone,
    CONSTRAINT staff_accounts_check CHECK (((role = 'contractor'::text) = (contract_end IS NOT NULL))),
    CONSTRAINT staff_accounts_check1 CHECK (((contract_end IS NULL) OR (expires_on <= contract_end))),
    CONSTRAINT staff_accounts_check2 CHECK (((expired_at IS NULL) = (expired_by IS NULL))),
    CONSTRAINT staff_accounts_created_by_check CHECK (((length(created_by) >= 1) AND (length(created_by) <= 200))),
    CONSTRAINT staff_accounts_password_hash_check CHECK ((password_hash ~~ '$argon2id$%'::text)),
    CONSTRAINT staff_accounts_role_check CHECK ((role = ANY (ARRAY['counter_staff'::text, 'contractor'::text, 'supervisor'::text, 'administrator'::text]))),
    CONSTRAINT staff_accounts_staff_id_check CHECK (((staff_id ~ '^[a-z0-9][a-z0-9._-]{1,31}$'::text) AND (staff_id !~ '[0-9]{12}'::text)))
);

CREATE TABLE public.staff_municipalities (
    staff_id text NOT NULL,
    municipality_code character(6) NOT NULL
);

CREATE TABLE public.staff_terminals (
    staff_id text NOT NULL,
    terminal_id text NOT NULL
);

CREATE TABLE public.terminals (
    terminal_id text NOT NULL,
    name text NOT NULL,
    enrol_token_hash bytea,
    enrol_expires_at timestamp with time zone,
    cookie_hash bytea,
    enrolled_at timestamp with time zone,
    created_by text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT terminals_check CHECK (((enrol_token_hash IS NULL) = (enrol_expires_at IS NULL))),
    CONSTRAINT terminals_cookie_hash_check CHECK ((length(cookie_hash) = 32)),
    CONSTRAINT terminals_created_by_check CHECK (((length(created_by) >= 1) AND (length(created_by) <= 200))),
    CONSTRAINT terminals_enrol_token_hash_check CHECK ((length(enrol_token_hash) = 32)),
    CONSTRAINT terminals_name_check CHECK ((((length(name) >= 1) AND (length(name) <= 64)) AND (name !~ '[0-9]{12}'::text))),
    CONSTRAINT terminals_terminal_id_check CHECK ((terminal_id ~ '^[A-Za-z0-9_-]{8,64}$'::text))
);

CREATE TABLE public.vaccinations (
    person_id bigint NOT NULL,
    municipality_code character(6) NOT NULL,
    dose_number smallint NOT NULL,
    vaccinated_on date NOT NULL,
    product text NOT NULL,
    lot_number text NOT NULL,
    CONSTRAINT vaccinations_dose_number_check CHECK (((dose_number >= 1) AND (dose_number <= 99))),
    CONSTRAINT vaccinations_lot_number_check CHECK ((lot_number ~ '^[A-Za-z0-9-]{1,20}$'::text)),
    CONSTRAINT vaccinations_product_check CHECK ((product = ANY (ARRAY['COMIRNATY'::text, 'COMIRNATY_BIVALENT'::text, 'SPIKEVAX'::text, 'SPIKEVAX_BIVALENT'::text, 'VAXZEVRIA'::text, 'NUVAXOVID'::text, 'JCOVDEN'::text])))
);

ALTER TABLE ONLY public.vaccinations FORCE ROW LEVEL SECURITY;

ALTER TABLE ONLY public.audit_checkpoints
    ADD CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (municipality_code);

ALTER TABLE ONLY public.audit_events
    ADD CONSTRAINT audit_events_municipality_code_seq_key UNIQUE (municipality_code, seq);

ALTER TABLE ONLY public.audit_events
    ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.data_keys
    ADD CONSTRAINT data_keys_pkey PRIMARY KEY (municipality_code);

ALTER TABLE ONLY public.issuances
    ADD CONSTRAINT issuances_pkey PRIMARY KEY (certificate_id);

ALTER TABLE ONLY public.municipalities
    ADD CONSTRAINT municipalities_pkey PRIMARY KEY (code);

ALTER TABLE ONLY public.persons
    ADD CONSTRAINT persons_id_municipality_code_key UNIQUE (id, municipality_code);

ALTER TABLE ONLY public.persons
    ADD CONSTRAINT persons_municipality_code_address_number_key UNIQUE (municipality_code, address_number);

ALTER TABLE ONLY public.persons
    ADD CONSTRAINT persons_municipality_code_my_number_hmac_key UNIQUE (municipality_code, my_number_hmac);

ALTER TABLE ONLY public.persons
    ADD CONSTRAINT persons_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.revocations
    ADD CONSTRAINT revocations_pkey PRIMARY KEY (certificate_id);

ALTER TABLE ONLY public.schema_migration
    ADD CONSTRAINT schema_migration_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.service_audit_checkpoint
    ADD CONSTRAINT service_audit_checkpoint_pkey PRIMARY KEY (singleton);

ALTER TABLE ONLY public.service_audit_events
    ADD CONSTRAINT service_audit_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.service_audit_events
    ADD CONSTRAINT service_audit_events_seq_key UNIQUE (seq);

ALTER TABLE ONLY public.shc_crls
    ADD CONSTRAINT shc_crls_pkey PRIMARY KEY (kid);

ALTER TABLE ONLY public.staff_accounts
    ADD CONSTRAINT staff_accounts_pkey PRIMARY KEY (staff_id);

ALTER TABLE ONLY public.staff_municipalities
    ADD CONSTRAINT staff_municipalities_pkey PRIMARY KEY (staff_id, municipality_code);

ALTER TABLE ONLY public.staff_terminals
    ADD CONSTRAINT staff_terminals_pkey PRIMARY KEY (staff_id, terminal_id);

ALTER TABLE ONLY public.terminals
    ADD CONSTRAINT terminals_cookie_hash_key UNIQUE (cookie_hash);

ALTER TABLE ONLY public.terminals
    ADD CONSTRAINT terminals_enrol_token_hash_key UNIQUE (enrol_token_hash);

ALTER TABLE ONLY public.terminals
    ADD CONSTRAINT terminals_name_key UNIQUE (name);

ALTER TABLE ONLY public.terminals
    ADD CONSTRAINT terminals_pkey PRIMARY KEY (terminal_id);

ALTER TABLE ONLY public.vaccinations
    ADD CONSTRAINT vaccinations_pkey PRIMARY KEY (person_id, dose_number);

CREATE INDEX audit_events_purge ON public.audit_events USING btree (municipality_code, at);

CREATE INDEX audit_events_unchained ON public.audit_events USING btree (municipality_code, id) WHERE (seq IS NULL);

CREATE INDEX issuances_person ON public.issuances USING btree (person_id, issued_at);

CREATE INDEX issuances_purge ON public.issuances USING btree (municipality_code, issued_at);

CREATE INDEX revocations_kid ON public.revocations USING btree (kid, revoked_at);

CREATE INDEX service_audit_events_unchained ON public.service_audit_events USING btree (id) WHERE (seq IS NULL);

CREATE INDEX vaccinations_purge ON public.vaccinations USING btree (municipality_code, vaccinated_on);

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON public.audit_events FOR EACH ROW EXECUTE FUNCTION public.audit_events_guard();

CREATE TRIGGER issuances_revoked AFTER UPDATE OF revoked_at ON public.issuances FOR EACH ROW WHEN (((old.revoked_at IS NULL) AND (new.revoked_at IS NOT NULL))) EXECUTE FUNCTION public.issuances_publish_revocation();

CREATE TRIGGER revocations_added AFTER INSERT ON public.revocations REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION public.revocations_bump_crl();

CREATE TRIGGER revocations_removed AFTER DELETE ON public.revocations REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION public.revocations_bump_crl();

CREATE TRIGGER service_audit_events_append_only BEFORE UPDATE ON public.service_audit_events FOR EACH ROW EXECUTE FUNCTION public.service_audit_events_guard();

ALTER TABLE ONLY public.audit_checkpoints
    ADD CONSTRAINT audit_checkpoints_municipality_code_fkey FOREIGN KEY (municipality_code) REFERENCES public.municipalities(code);

ALTER TABLE ONLY public.audit_events
    ADD CONSTRAINT audit_events_municipality_code_fkey FOREIGN KEY (municipality_code) REFERENCES public.municipalities(code);

ALTER TABLE ONLY public.data_keys
    ADD CONSTRAINT data_keys_municipality_code_fkey FOREIGN KEY (municipality_code) REFERENCES public.municipalities(code);

ALTER TABLE ONLY public.issuances
    ADD CONSTRAINT issuances_person_id_municipality_code_fkey FOREIGN KEY (person_id, municipality_code) REFERENCES public.persons(id, municipality_code) ON DELETE SET NULL (person_id);

ALTER TABLE ONLY public.persons
    ADD CONSTRAINT persons_municipality_code_fkey FOREIGN KEY (municipality_code) REFERENCES public.municipalities(code);

ALTER TABLE ONLY public.staff_municipalities
    ADD CONSTRAINT staff_municipalities_municipality_code_fkey FOREIGN KEY (municipality_code) REFERENCES public.municipalities(code);

ALTER TABLE ONLY public.staff_municipalities
    ADD CONSTRAINT staff_municipalities_staff_id_fkey FOREIGN KEY (staff_id) REFERENCES public.staff_accounts(staff_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.staff_terminals
    ADD CONSTRAINT staff_terminals_staff_id_fkey FOREIGN KEY (staff_id) REFERENCES public.staff_accounts(staff_id) ON DELETE CASCADE;

ALTER TABLE ONLY public.staff_terminals
    ADD CONSTRAINT staff_terminals_terminal_id_fkey FOREIGN KEY (terminal_id) REFERENCES public.terminals(terminal_id);

ALTER TABLE ONLY public.vaccinations
    ADD CONSTRAINT vaccinations_person_id_municipality_code_fkey FOREIGN KEY (person_id, municipality_code) REFERENCES public.persons(id, municipality_code) ON DELETE CASCADE;

ALTER TABLE public.audit_checkpoints ENABLE ROW LEVEL SECURITY;

CREATE POLICY audit_checkpoints_partition ON public.audit_checkpoints USING ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar)) WITH CHECK ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar));

ALTER TABLE public.audit_events ENABLE ROW LEVEL SECURITY;

CREATE POLICY audit_events_partition ON public.audit_events USING ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar)) WITH CHECK ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar));

ALTER TABLE public.data_keys ENABLE ROW LEVEL SECURITY;

CREATE POLICY data_keys_partition ON public.data_keys USING ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar)) WITH CHECK ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar));

ALTER TABLE public.issuances ENABLE ROW LEVEL SECURITY;

CREATE POLICY issuances_partition ON public.issuances USING ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar)) WITH CHECK ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar));

ALTER TABLE public.persons ENABLE ROW LEVEL SECURITY;

CREATE POLICY persons_partition ON public.persons USING ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar)) WITH CHECK ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar));

ALTER TABLE public.vaccinations ENABLE ROW LEVEL SECURITY;

CREATE POLICY vaccinations_partition ON public.vaccinations USING ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar)) WITH CHECK ((municipality_code = (current_setting('vrs.municipality_code'::text, true))::bpchar));

GRANT USAGE ON SCHEMA public TO certsvc_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.audit_checkpoints TO certsvc_app;

GRANT SELECT,INSERT,DELETE ON TABLE public.audit_events TO certsvc_app;

GRANT UPDATE(seq) ON TABLE public.audit_events TO certsvc_app;

GRANT UPDATE(prev_hash) ON TABLE public.audit_events TO certsvc_app;

GRANT UPDATE(hash) ON TABLE public.audit_events TO certsvc_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.data_keys TO certsvc_app;

GRANT SELECT,INSERT,DELETE ON TABLE public.issuances TO certsvc_app;

GRANT UPDATE(person_id) ON TABLE public.issuances TO certsvc_app;

GRANT UPDATE(passport_enc) ON TABLE public.issuances TO certsvc_app;

GRANT UPDATE(voided_at) ON TABLE public.issuances TO certsvc_app;

GRANT UPDATE(void_reason) ON TABLE public.issuances TO certsvc_app;

GRANT UPDATE(revoked_at) ON TABLE public.issuances TO certsvc_app;

GRANT UPDATE(revoke_reason) ON TABLE public.issuances TO certsvc_app;

GRANT UPDATE(signatures_enc) ON TABLE public.issuances TO certsvc_app;

GRANT SELECT ON TABLE public.municipalities TO certsvc_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.persons TO certsvc_app;

GRANT SELECT,INSERT,DELETE ON TABLE public.revocations TO certsvc_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.service_audit_checkpoint TO certsvc_app;

GRANT SELECT,INSERT ON TABLE public.service_audit_events TO certsvc_app;

GRANT UPDATE(seq) ON TABLE public.service_audit_events TO certsvc_app;

GRANT UPDATE(prev_hash) ON TABLE public.service_audit_events TO certsvc_app;

GRANT UPDATE(hash) ON TABLE public.service_audit_events TO certsvc_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.shc_crls TO certsvc_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.staff_accounts TO certsvc_app;

GRANT SELECT,INSERT ON TABLE public.staff_municipalities TO certsvc_app;

GRANT SELECT,INSERT ON TABLE public.staff_terminals TO certsvc_app;

GRANT SELECT,INSERT,UPDATE ON TABLE public.terminals TO certsvc_app;

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.vaccinations TO certsvc_app;
