"""What the kiosk shows and says: the two reminders (DESIGN §1.2 item 3) and the reasons a
certificate for use abroad is not offered, in Japanese and English."""

from __future__ import annotations

import msgspec

from certsvc.channel import RefusalCode


class Bilingual(msgspec.Struct, frozen=True, kw_only=True):
    ja: str
    en: str


class Reminder(msgspec.Struct, frozen=True, kw_only=True):
    """A reminder screen: the text to show and the text to speak."""

    screen: Bilingual
    voice: Bilingual


CARD_REMINDER = Reminder(
    screen=Bilingual(
        ja="マイナンバーカードをお取りください。カードの取り忘れにご注意ください。",
        en="Please remove your My Number card. Do not leave your card behind.",
    ),
    voice=Bilingual(
        ja="マイナンバーカードをお取りください。",
        en="Please take your My Number card.",
    ),
)

CERTIFICATE_REMINDER = Reminder(
    screen=Bilingual(
        ja="証明書をお取りください。証明書の取り忘れにご注意ください。",
        en="Please take your certificate. Do not leave your certificate behind.",
    ),
    voice=Bilingual(
        ja="証明書が印刷されました。お取り忘れのないようご注意ください。",
        en="Your certificate has been printed. Please do not forget to take it.",
    ),
)

#: Why a certificate for use abroad is not offered at the kiosk (shown on the kind screen).
ABROAD_UNAVAILABLE: dict[RefusalCode, Bilingual] = {
    RefusalCode.PASSPORT_NOT_ON_RECORD: Bilingual(
        ja=(
            "海外用の証明書には旅券の情報が必要です。この市区町村で海外用の証明書を"
            "交付した記録（有効な旅券）がないため、コンビニでは国内用のみ交付できます。"
            "海外用はアプリまたは市区町村の窓口で申請してください。"
        ),
        en=(
            "A certificate for use abroad needs passport data. This municipality has no earlier "
            "certificate for use abroad with a valid passport on record, so the kiosk can issue "
            "the domestic certificate only. Apply for one for use abroad in the app or at the "
            "city counter."
        ),
    ),
}

_GENERIC_UNAVAILABLE = Bilingual(
    ja="海外用の証明書はコンビニでは交付できません。市区町村の窓口にお問い合わせください。",
    en="The kiosk cannot issue a certificate for use abroad. Please ask the city counter.",
)


def abroad_unavailable_text(code: RefusalCode) -> Bilingual:
    """The screen text for `code` (a generic text for a reason without its own)."""
    return ABROAD_UNAVAILABLE.get(code, _GENERIC_UNAVAILABLE)
