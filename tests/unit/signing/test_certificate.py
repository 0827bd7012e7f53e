"""The certificate model and the shipped product table; builders the other tests share."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signing import (
    PRODUCTS,
    Certificate,
    CertificateError,
    Dose,
    FileKeyStore,
    Holder,
    Municipality,
    new_certificate_id,
)

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
ISSUER = "https://vc.example.invalid/issuer"
AUTHORITY = "MHLW_Gov_of_JAPAN"
MUNICIPALITY = Municipality(code="282022", name_ja="尼崎市", name_en="Amagasaki City")
_PRODUCT_CYCLE = ("COMIRNATY", "SPIKEVAX", "COMIRNATY_BIVALENT", "SPIKEVAX_BIVALENT", "NUVAXOVID")


def make_cert(
    *,
    kind: str = "domestic",
    doses: int = 3,
    family_roman: str = "YAMADA",
    given_roman: str = "TARO",
    cert_id: str = "ABCDEFGH2345",
    rid: str | None = None,
) -> Certificate:
    """A valid certificate with `doses` doses (product, date and lot vary per dose)."""
    holder = Holder(
        family_name="山田",
        given_name="太郎",
        birth_date=date(1980, 1, 2),
        sex="1",
        family_name_roman=family_roman if kind == "abroad" else None,
        given_names_roman=given_roman if kind == "abroad" else None,
        nationality="JPN" if kind == "abroad" else None,
        passport_number="TR1234567" if kind == "abroad" else None,
    )
    return Certificate(
        certificate_id=cert_id,
        issued_at=NOW,
        kind="abroad" if kind == "abroad" else "domestic",
        holder=holder,
        doses=tuple(
            Dose(
                number=i,
                date=date(2021, 5, 1) + timedelta(days=47 * i),
                product=_PRODUCT_CYCLE[i % len(_PRODUCT_CYCLE)],
                lot=f"L{i:02d}X{(i * 7919) % 100000:05d}",
            )
            for i in range(1, doses + 1)
        ),
        municipality=MUNICIPALITY,
        rid=rid,
    )


def make_store(path: Path) -> FileKeyStore:
    store = FileKeyStore(path / "keys")
    store.create(now=NOW)
    return store


def test_certificate_id_is_12_base32_chars() -> None:
    ids = {new_certificate_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Z2-7]{12}", i) for i in ids)


def test_product_table_codes() -> None:
    # CVX per the CDC table; ICD-11 vaccine types per the WHO DDCC value set
    expected = {
        "COMIRNATY": ("208", "XM0GQ8"),
        "COMIRNATY_BIVALENT": ("300", "XM0GQ8"),
        "SPIKEVAX": ("207", "XM0GQ8"),
        "SPIKEVAX_BIVALENT": ("229", "XM0GQ8"),
        "VAXZEVRIA": ("210", "XM9QW8"),
        "NUVAXOVID": ("211", "XM5JC5"),
        "JCOVDEN": ("212", "XM9QW8"),
    }
    assert {k: (p.cvx, p.icd11) for k, p in PRODUCTS.items()} == expected
    assert all(p.name.isascii() and p.manufacturer for p in PRODUCTS.values())


def test_certificate_has_no_my_number_field() -> None:
    for struct in (Certificate, Holder, Dose):
        assert not any("number" in f and "my" in f for f in struct.__struct_fields__)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"cert_id": "abc"}, "CERT_BAD_ID"),
        ({"kind": "abroad", "family_roman": "Yamada"}, "CERT_BAD_ROMAN_NAME"),
    ],
)
def test_certificate_refuses_bad_values(change: dict[str, str], code: str) -> None:
    with pytest.raises(CertificateError) as exc:
        make_cert(**change)  # type: ignore[arg-type]
    assert exc.value.code == code


def test_certificate_refuses_naive_time_and_unknown_product() -> None:
    good = make_cert()
    with pytest.raises(CertificateError) as exc:
        Certificate(
            certificate_id=good.certificate_id,
            issued_at=datetime(2026, 1, 1),  # noqa: DTZ001 (the point of the test)
            kind="domestic",
            holder=good.holder,
            doses=good.doses,
            municipality=good.municipality,
        )
    assert exc.value.code == "CERT_NAIVE_TIME"
    with pytest.raises(CertificateError) as exc:
        Certificate(
            certificate_id=good.certificate_id,
            issued_at=NOW,
            kind="domestic",
            holder=good.holder,
            doses=(Dose(number=1, date=date(2021, 1, 1), product="SPUTNIK", lot="A1"),),
            municipality=good.municipality,
        )
    assert exc.value.code == "CERT_UNKNOWN_PRODUCT"


@given(st.integers(min_value=-5, max_value=120))
def test_dose_number_range(number: int) -> None:
    good = make_cert()

    def build() -> Certificate:
        return Certificate(
            certificate_id=good.certificate_id,
            issued_at=NOW,
            kind="domestic",
            holder=good.holder,
            doses=(Dose(number=number, date=date(2021, 1, 1), product="COMIRNATY", lot="A1"),),
            municipality=good.municipality,
        )

    if 1 <= number <= 99:
        build()
    else:
        with pytest.raises(CertificateError):
            build()
