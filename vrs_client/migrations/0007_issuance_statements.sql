-- An issuance's two statements: the lookup and the write, each one call in its own (implicit)
-- transaction. A call enters the municipality's scope itself, exactly as `VrsStore.scoped` does
-- (role certsvc_app, `vrs.municipality_code`, both transaction-local), and only then runs its
-- queries, so row-level security confines them to that municipality even when the pool's login
-- is a superuser. The statements inside are planned after the role is set: a single SQL
-- statement that set the role itself would have been planned, and its policies left out, as the
-- login. Both functions run with the caller's rights (not SECURITY DEFINER): a login that may
-- not become certsvc_app cannot call them either.
--
-- Against the transaction of before (BEGIN, scope, lookup, write, COMMIT: five round trips), the
-- read and the write are no longer in one transaction. Nothing depended on that: under READ
-- COMMITTED each statement already saw its own snapshot, the lookup took no lock, and the write
-- checks again that the person is there and writes the issuance and its audit event atomically.

-- An issuance's municipality is checked once, through its person, as a dose's is (0006): the
-- (person_id, municipality_code) key to persons makes it a person's municipality, and
-- persons.municipality_code references municipalities. The direct key repeated that check and
-- took a share lock on the municipality's row in every issuance — with issuances running at
-- once, a multixact on that one row (this key and the audit events' one together: ≈ 10 % of
-- PostgreSQL's CPU per issuance in `bench_store`). An issuance is only ever written with its
-- person (vrs_record_issuance and VrsTransaction.record_issuance insert from the person's row),
-- and no municipality is ever deleted. The audit events' key stays: many of them (imports,
-- staff and key actions) have no person to check their municipality through.
ALTER TABLE issuances DROP CONSTRAINT issuances_municipality_code_fkey;

-- The person by My Number HMAC (or, without one, by address number) with their doses in dose
-- order, and with p_with_abroad_passport the passport items of their latest issuance for use
-- abroad that was not voided. No row: no such person in this municipality.
CREATE FUNCTION vrs_issuance_lookup(
    p_municipality_code text,
    p_my_number_hmac bytea,
    p_address_number text,
    p_with_abroad_passport boolean
) RETURNS TABLE (
    person_id bigint,
    address_number text,
    name_enc bytea,
    birth_date_enc bytea,
    sex_enc bytea,
    status text,
    record_digest bytea,
    record_version integer,
    doses smallint[],
    dates date[],
    products text[],
    lots text[],
    passport_certificate_id text,
    passport_enc bytea
)
LANGUAGE plpgsql AS $$
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

-- The issuance and its audit event, in one statement: no issuance when the person is gone or the
-- certificate id is taken, no audit event without the issuance (p_audit_at NULL: no event).
-- Returns (person found, issuance written, audit event written) as counts 0 or 1.
CREATE FUNCTION vrs_record_issuance(
    p_certificate_id text,
    p_municipality_code text,
    p_person_id bigint,
    p_issued_at timestamptz,
    p_channel text,
    p_kind text,
    p_rid text,
    p_kid text,
    p_records_digest bytea,
    p_passport_enc bytea,
    p_copies smallint,
    p_fee_yen integer,
    p_signatures_enc bytea,
    p_audit_at timestamptz,
    p_actor text,
    p_action text,
    p_address_number text,
    p_reason text,
    p_outcome text,
    p_actor_role text,
    p_terminal text,
    p_identity_method text,
    p_subject text
) RETURNS TABLE (person_found bigint, issued bigint, audited bigint)
LANGUAGE plpgsql AS $$
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

-- EXECUTE stays granted to PUBLIC (the default): the first thing either function does is become
-- certsvc_app, which fails for a login that is not a member of it.
