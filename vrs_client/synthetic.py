"""Synthetic residents and municipalities for the demo, the tests and the benchmark.

Deterministic from a seed. Names are common Japanese names with their passport (Hepburn, no
macrons) romanization; My Numbers and municipality codes carry valid check digits; doses follow
the Japanese campaign (2021-02 onward) with products of the right period.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import msgspec

from vrs_client._checks import is_valid_municipality_code, my_number_check_digit
from vrs_client._conn import Conn
from vrs_client._import import PERSON_COLUMNS, VACCINATION_COLUMNS
from vrs_client._types import MunicipalitySeed, PersonStatus, Product

_FAMILY = (
    "佐藤:SATO 鈴木:SUZUKI 高橋:TAKAHASHI 田中:TANAKA 伊藤:ITO 渡辺:WATANABE 山本:YAMAMOTO "
    "中村:NAKAMURA 小林:KOBAYASHI 加藤:KATO 吉田:YOSHIDA 山田:YAMADA 佐々木:SASAKI 山口:YAMAGUCHI "
    "松本:MATSUMOTO 井上:INOUE 木村:KIMURA 林:HAYASHI 斎藤:SAITO 清水:SHIMIZU 山崎:YAMAZAKI "
    "森:MORI 池田:IKEDA 橋本:HASHIMOTO 阿部:ABE 石川:ISHIKAWA 山下:YAMASHITA 中島:NAKAJIMA "
    "石井:ISHII 小川:OGAWA 前田:MAEDA 岡田:OKADA 長谷川:HASEGAWA 藤田:FUJITA 後藤:GOTO "
    "近藤:KONDO 村上:MURAKAMI 遠藤:ENDO 青木:AOKI 坂本:SAKAMOTO 斉藤:SAITO 福田:FUKUDA "
    "太田:OTA 西村:NISHIMURA 藤井:FUJII 金子:KANEKO 岡本:OKAMOTO 藤原:FUJIWARA 中野:NAKANO "
    "三浦:MIURA 原田:HARADA 中川:NAKAGAWA 松田:MATSUDA 竹内:TAKEUCHI 小野:ONO 田村:TAMURA "
    "中山:NAKAYAMA 和田:WADA 石田:ISHIDA 森田:MORITA 上田:UEDA 原:HARA 内田:UCHIDA "
    "柴田:SHIBATA 酒井:SAKAI 宮崎:MIYAZAKI 横山:YOKOYAMA 高木:TAKAGI 安藤:ANDO 宮本:MIYAMOTO "
    "大野:ONO 小島:KOJIMA 谷口:TANIGUCHI 工藤:KUDO 今井:IMAI 高田:TAKADA 増田:MASUDA "
    "丸山:MARUYAMA 杉山:SUGIYAMA 村田:MURATA 大塚:OTSUKA 新井:ARAI 小山:KOYAMA 平野:HIRANO "
    "藤本:FUJIMOTO 河野:KONO 上野:UENO 野口:NOGUCHI 武田:TAKEDA 松井:MATSUI 千葉:CHIBA "
    "岩崎:IWASAKI 菅原:SUGAWARA 木下:KINOSHITA 久保:KUBO 佐野:SANO 野村:NOMURA 松尾:MATSUO "
    "市川:ICHIKAWA 菊地:KIKUCHI 杉本:SUGIMOTO 古川:FURUKAWA 大西:ONISHI 島田:SHIMADA "
    "水野:MIZUNO 桜井:SAKURAI 高野:TAKANO 渡部:WATANABE 吉川:YOSHIKAWA 山内:YAMAUCHI "
    "西田:NISHIDA 飯田:IIDA 菊池:KIKUCHI 西川:NISHIKAWA 小松:KOMATSU 北村:KITAMURA "
    "安田:YASUDA 五十嵐:IGARASHI 川口:KAWAGUCHI 平田:HIRATA 関:SEKI 中田:NAKATA 久保田:KUBOTA "
    "服部:HATTORI 東:HIGASHI 岩田:IWATA 土屋:TSUCHIYA 川崎:KAWASAKI 福島:FUKUSHIMA 本田:HONDA "
    "辻:TSUJI 樋口:HIGUCHI 秋山:AKIYAMA 田口:TAGUCHI 永井:NAGAI 山中:YAMANAKA 中西:NAKANISHI "
    "吉村:YOSHIMURA 川上:KAWAKAMI 石原:ISHIHARA 大橋:OHASHI 松岡:MATSUOKA 馬場:BABA "
    "浜田:HAMADA 森本:MORIMOTO 星野:HOSHINO 矢野:YANO 浅野:ASANO 大久保:OKUBO 松下:MATSUSHITA"
)
_GIVEN_FEMALE = (
    "花子:HANAKO 陽子:YOKO 恵子:KEIKO 京子:KYOKO 幸子:SACHIKO 和子:KAZUKO 洋子:YOKO "
    "美智子:MICHIKO 節子:SETSUKO 久美子:KUMIKO 由美子:YUMIKO 智子:TOMOKO 裕子:YUKO "
    "直美:NAOMI 真由美:MAYUMI 明美:AKEMI 恵美:EMI 愛:AI 舞:MAI 彩:AYA 麻衣:MAI 瞳:HITOMI "
    "美穂:MIHO 愛子:AIKO さくら:SAKURA 陽菜:HINA 結衣:YUI 美咲:MISAKI 葵:AOI 凛:RIN "
    "結菜:YUNA 芽衣:MEI 莉子:RIKO 美羽:MIU 七海:NANAMI 杏:ANN 花音:KANON 心春:KOHARU "
    "紬:TSUMUGI 陽葵:HIMARI 澪:MIO 千尋:CHIHIRO 由紀:YUKI 真理:MARI 香織:KAORI 沙織:SAORI "
    "理恵:RIE 亜希子:AKIKO 加奈子:KANAKO 里美:SATOMI 奈々:NANA 美和:MIWA 静香:SHIZUKA "
    "千秋:CHIAKI 文子:FUMIKO 順子:JUNKO 典子:NORIKO 悦子:ETSUKO 弘子:HIROKO 春香:HARUKA "
    "優花:YUKA 茜:AKANE 楓:KAEDE 遥:HARUKA 彩花:AYAKA 菜々子:NANAKO 朋美:TOMOMI 早苗:SANAE"
)
_GIVEN_MALE = (
    "太郎:TARO 一郎:ICHIRO 次郎:JIRO 健一:KENICHI 誠:MAKOTO 浩:HIROSHI 実:MINORU "
    "清:KIYOSHI 茂:SHIGERU 勇:ISAMU 博:HIROSHI 隆:TAKASHI 修:OSAMU 豊:YUTAKA 進:SUSUMU "
    "大輔:DAISUKE 拓也:TAKUYA 翔太:SHOTA 健太:KENTA 翔:SHO 大樹:DAIKI 直樹:NAOKI 亮:RYO "
    "和也:KAZUYA 達也:TATSUYA 哲也:TETSUYA 裕太:YUTA 蓮:REN 陽翔:HARUTO 湊:MINATO 蒼:AOI "
    "樹:ITSUKI 大翔:HIROTO 悠真:YUMA 陸:RIKU 颯太:SOTA 悠人:YUTO 朝陽:ASAHI 律:RITSU "
    "新:ARATA 陽太:YOTA 海斗:KAITO 隼人:HAYATO 健二:KENJI 正人:MASATO 雅之:MASAYUKI "
    "秀樹:HIDEKI 俊介:SHUNSUKE 浩二:KOJI 信也:SHINYA 智也:TOMOYA 康弘:YASUHIRO 剛:TSUYOSHI "
    "聡:SATOSHI 学:MANABU 光:HIKARU 悟:SATORU 純一:JUNICHI 正樹:MASAKI 克也:KATSUYA "
    "昭:AKIRA 稔:MINORU 武:TAKESHI 弘:HIROSHI 義雄:YOSHIO 勝:MASARU 保:TAMOTSU 登:NOBORU"
)


def _table(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, r) for k, r in (item.split(":") for item in text.split()))


FAMILY_NAMES = _table(_FAMILY)
FEMALE_GIVEN_NAMES = _table(_GIVEN_FEMALE)
MALE_GIVEN_NAMES = _table(_GIVEN_MALE)

#: Municipalities of the demo (real codes; the check digit is verified at import).
MUNICIPALITIES: tuple[MunicipalitySeed, ...] = (
    MunicipalitySeed(code="282022", name_ja="尼崎市", name_en="Amagasaki City", kiosk_enabled=True),
    MunicipalitySeed(code="131016", name_ja="千代田区", name_en="Chiyoda City", kiosk_enabled=True),
    MunicipalitySeed(code="011002", name_ja="札幌市", name_en="Sapporo City", kiosk_fee_yen=200),
    MunicipalitySeed(code="141003", name_ja="横浜市", name_en="Yokohama City", kiosk_enabled=True),
    MunicipalitySeed(code="271004", name_ja="大阪市", name_en="Osaka City", app_enabled=True),
    MunicipalitySeed(
        code="231002", name_ja="名古屋市", name_en="Nagoya City", counter_enabled=True
    ),
    MunicipalitySeed(code="401307", name_ja="福岡市", name_en="Fukuoka City", kiosk_enabled=True),
    MunicipalitySeed(code="261009", name_ja="京都市", name_en="Kyoto City", app_enabled=False),
    MunicipalitySeed(code="281000", name_ja="神戸市", name_en="Kobe City", kiosk_enabled=True),
    MunicipalitySeed(code="282031", name_ja="西宮市", name_en="Nishinomiya City"),
)
for _m in MUNICIPALITIES:
    if not is_valid_municipality_code(_m.code):  # pragma: no cover - a table typo
        raise RuntimeError("bad municipality code in the synthetic table")


class SyntheticDose(msgspec.Struct, frozen=True, kw_only=True):
    dose_number: int
    vaccinated_on: date
    product: Product
    lot_number: str


class SyntheticResident(msgspec.Struct, frozen=True, kw_only=True):
    """A synthetic resident: everything on the card, the romanization a passport would carry,
    and the doses (for the demo to make matching cards and passports)."""

    municipality_code: str
    address_number: str
    my_number: str
    ticket_number: str
    family_name: str
    given_name: str
    family_name_roman: str
    given_name_roman: str
    birth_date: date
    sex: str
    status: PersonStatus
    doses: tuple[SyntheticDose, ...]

    @property
    def name(self) -> str:
        return f"{self.family_name}\u3000{self.given_name}"


# (first day, last day, products with weights) per dose number; doses 6 and 7 reuse the last era.
_ERAS: tuple[tuple[date, date, tuple[tuple[Product, int], ...]], ...] = (
    (
        date(2021, 2, 17),
        date(2021, 11, 30),
        ((Product.COMIRNATY, 80), (Product.SPIKEVAX, 18), (Product.VAXZEVRIA, 2)),
    ),
    (
        date(2021, 3, 10),
        date(2021, 12, 31),
        ((Product.COMIRNATY, 80), (Product.SPIKEVAX, 19), (Product.VAXZEVRIA, 1)),
    ),
    (
        date(2021, 12, 1),
        date(2022, 8, 31),
        ((Product.COMIRNATY, 55), (Product.SPIKEVAX, 43), (Product.NUVAXOVID, 2)),
    ),
    (
        date(2022, 9, 20),
        date(2023, 3, 31),
        ((Product.COMIRNATY_BIVALENT, 70), (Product.SPIKEVAX_BIVALENT, 30)),
    ),
    (
        date(2023, 5, 8),
        date(2023, 9, 19),
        ((Product.COMIRNATY_BIVALENT, 70), (Product.SPIKEVAX_BIVALENT, 30)),
    ),
    (
        date(2023, 9, 20),
        date(2024, 3, 31),
        ((Product.COMIRNATY, 75), (Product.SPIKEVAX, 25)),
    ),
    (
        date(2024, 10, 1),
        date(2025, 3, 31),
        ((Product.COMIRNATY, 60), (Product.SPIKEVAX, 40)),
    ),
)


def _lot(rng: random.Random, product: Product) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    if product in (Product.SPIKEVAX, Product.SPIKEVAX_BIVALENT):
        return f"{rng.randrange(10**6):06d}"
    if product is Product.VAXZEVRIA:
        return f"CT{rng.randrange(10**4):04d}"
    return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randrange(10**4):04d}"


def _my_number(rng: random.Random, used: set[str]) -> str:
    while True:
        first = f"{rng.randrange(1, 10**11):011d}"
        if first not in used:
            used.add(first)
            return first + str(my_number_check_digit(first))


def _doses(rng: random.Random) -> tuple[SyntheticDose, ...]:
    if rng.random() < 0.01:  # a single-dose Janssen schedule
        on = date(2022, 9, 1) + timedelta(days=rng.randrange(120))
        return (
            SyntheticDose(
                dose_number=1,
                vaccinated_on=on,
                product=Product.JCOVDEN,
                lot_number=f"{rng.randrange(10**6):06d}",
            ),
        )
    count = rng.choices(range(1, 8), weights=(3, 12, 25, 20, 18, 14, 8))[0]
    doses = []
    previous = date(2021, 2, 16)
    for n in range(count):
        first, last, products = _ERAS[n]
        first = max(first, previous + timedelta(days=21))
        if first > last:
            last = first + timedelta(days=60)
        on = first + timedelta(days=rng.randrange((last - first).days + 1))
        product = rng.choices([p for p, _ in products], weights=[w for _, w in products])[0]
        doses.append(
            SyntheticDose(
                dose_number=n + 1, vaccinated_on=on, product=product, lot_number=_lot(rng, product)
            )
        )
        previous = on
    return tuple(doses)


def generate_residents(
    count: int, *, municipalities: int = 2, seed: int = 0
) -> list[SyntheticResident]:
    """`count` residents spread over the first `municipalities` demo municipalities (Amagasaki,
    Chiyoda, …), the same for the same seed."""
    if not 1 <= municipalities <= len(MUNICIPALITIES):
        raise ValueError(f"municipalities must be 1..{len(MUNICIPALITIES)}")
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by design
    used: set[str] = set()
    codes = [m.code for m in MUNICIPALITIES[:municipalities]]
    next_address = {code: 10_000_001 + rng.randrange(1000) * 1000 for code in codes}
    residents = []
    for i in range(count):
        code = codes[i % len(codes)]
        address = str(next_address[code])
        next_address[code] += 1 + rng.randrange(3)
        sex = rng.choices(("1", "2", "9"), weights=(49, 50, 1))[0]
        family, family_roman = rng.choice(FAMILY_NAMES)
        given, given_roman = rng.choice(FEMALE_GIVEN_NAMES if sex == "2" else MALE_GIVEN_NAMES)
        birth = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 80))
        roll = rng.random()
        status = (
            PersonStatus.DECEASED
            if roll < 0.01
            else PersonStatus.MOVED_OUT
            if roll < 0.04
            else PersonStatus.RESIDENT
        )
        residents.append(
            SyntheticResident(
                municipality_code=code,
                address_number=address,
                my_number=_my_number(rng, used),
                ticket_number=f"{rng.randrange(10**10):010d}",
                family_name=family,
                given_name=given,
                family_name_roman=family_roman,
                given_name_roman=given_roman,
                birth_date=birth,
                sex=sex,
                status=status,
                doses=_doses(rng),
            )
        )
    return residents


def write_csv_files(
    residents: Sequence[SyntheticResident], persons: Path, vaccinations: Path
) -> None:
    """Write the two contracts §4 files."""
    with persons.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(PERSON_COLUMNS)
        for r in residents:
            w.writerow(
                [
                    r.municipality_code,
                    r.address_number,
                    r.my_number,
                    r.ticket_number,
                    r.name,
                    r.birth_date.isoformat(),
                    r.sex,
                    r.status.value,
                ]
            )
    with vaccinations.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(VACCINATION_COLUMNS)
        for r in residents:
            for d in r.doses:
                w.writerow(
                    [
                        r.municipality_code,
                        r.address_number,
                        d.dose_number,
                        d.vaccinated_on.isoformat(),
                        d.product.value,
                        d.lot_number,
                    ]
                )


def generate_files(
    directory: Path, count: int, *, municipalities: int = 2, seed: int = 0
) -> tuple[Path, Path, list[SyntheticResident]]:
    """Generate residents and write `persons.csv` and `vaccinations.csv` into `directory`."""
    residents = generate_residents(count, municipalities=municipalities, seed=seed)
    persons, vaccinations = directory / "persons.csv", directory / "vaccinations.csv"
    write_csv_files(residents, persons, vaccinations)
    return persons, vaccinations, residents


_q_upsert_municipality = """
INSERT INTO municipalities (code, name_ja, name_en, app_enabled, kiosk_enabled, counter_enabled,
                            kiosk_fee_yen, kiosk_open, kiosk_close)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (code) DO UPDATE SET name_ja = EXCLUDED.name_ja, name_en = EXCLUDED.name_en,
    app_enabled = EXCLUDED.app_enabled, kiosk_enabled = EXCLUDED.kiosk_enabled,
    counter_enabled = EXCLUDED.counter_enabled, kiosk_fee_yen = EXCLUDED.kiosk_fee_yen,
    kiosk_open = EXCLUDED.kiosk_open, kiosk_close = EXCLUDED.kiosk_close
"""


async def seed_municipalities(
    conn: Conn, rows: Sequence[MunicipalitySeed] = MUNICIPALITIES
) -> None:
    """Insert or update municipalities (reference data: run as the schema owner, not in a
    scope — `certsvc_app` may only read them)."""
    for m in rows:
        if not is_valid_municipality_code(m.code):
            raise ValueError("municipality code with a wrong check digit")
    await conn.executemany(
        _q_upsert_municipality,
        [
            (
                m.code,
                m.name_ja,
                m.name_en,
                m.app_enabled,
                m.kiosk_enabled,
                m.counter_enabled,
                m.kiosk_fee_yen,
                m.kiosk_open,
                m.kiosk_close,
            )
            for m in rows
        ],
    )
