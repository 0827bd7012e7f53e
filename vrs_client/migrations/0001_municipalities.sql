-- Reference data: the municipalities served. Public, not partitioned.
CREATE TABLE municipalities (
    -- 全国地方公共団体コード: 5 digits + check digit (contracts §4).
    code             char(6) PRIMARY KEY CHECK (code ~ '^[0-9]{6}$'),
    name_ja          text NOT NULL CHECK (length(name_ja) BETWEEN 1 AND 64),
    name_en          text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 64),
    app_enabled      boolean NOT NULL DEFAULT true,
    kiosk_enabled    boolean NOT NULL DEFAULT false,
    counter_enabled  boolean NOT NULL DEFAULT true,
    kiosk_fee_yen    integer NOT NULL DEFAULT 120 CHECK (kiosk_fee_yen BETWEEN 0 AND 10000),
    -- Kiosk service hours, JST.
    kiosk_open       time NOT NULL DEFAULT '06:30',
    kiosk_close      time NOT NULL DEFAULT '23:00',
    CHECK (kiosk_open < kiosk_close)
);
