-- Times are seconds since the epoch on the sandbox clock (REAL); JSON columns hold TEXT.
CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    credentials TEXT NOT NULL,             -- {"wechat": {...}, "alipay": {...}, "quickpay": {...}}
    created_at  REAL NOT NULL
);

-- How a provider's request names its merchant (mchid, app_id, store_no) -> our merchant.
CREATE TABLE merchant_keys (
    provider    TEXT NOT NULL,
    key         TEXT NOT NULL,
    merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
    PRIMARY KEY (provider, key)
);

CREATE TABLE payments (
    id                TEXT PRIMARY KEY,
    provider          TEXT NOT NULL,
    merchant_id       TEXT NOT NULL REFERENCES merchants(id),
    out_trade_no      TEXT NOT NULL,
    provider_trade_no TEXT NOT NULL,
    amount            INTEGER NOT NULL,     -- fen
    refunded_amount   INTEGER NOT NULL DEFAULT 0,
    currency          TEXT NOT NULL,
    trade_type        TEXT NOT NULL,
    status            TEXT NOT NULL,
    close_reason      TEXT,
    fail_reason       TEXT,
    description       TEXT,
    attach            TEXT,
    notify_url        TEXT,
    payer             TEXT NOT NULL DEFAULT '{}',
    provider_ids      TEXT NOT NULL DEFAULT '{}',
    extra             TEXT NOT NULL DEFAULT '{}',
    fingerprint       TEXT NOT NULL,
    raw_request       TEXT,
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL,
    expires_at        REAL,
    paid_at           REAL,
    closed_at         REAL,
    auto_action       TEXT,                 -- succeed | fail | close, set by a rule
    auto_action_at    REAL,
    UNIQUE (merchant_id, provider, out_trade_no)
);
CREATE INDEX payments_created ON payments (created_at DESC);
CREATE INDEX payments_provider_trade_no ON payments (provider, provider_trade_no);
CREATE INDEX payments_expiry ON payments (expires_at) WHERE status = 'PENDING';
CREATE INDEX payments_auto_action ON payments (auto_action_at) WHERE status = 'PENDING';

CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY,
    payment_id         TEXT NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
    out_refund_no      TEXT NOT NULL,
    provider_refund_no TEXT NOT NULL,
    amount             INTEGER NOT NULL,
    status             TEXT NOT NULL,
    reason             TEXT,
    notify_url         TEXT,
    extra              TEXT NOT NULL DEFAULT '{}',
    created_at         REAL NOT NULL,
    succeeded_at       REAL,
    UNIQUE (payment_id, out_refund_no)
);

CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    payment_id      TEXT NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
    refund_id       TEXT REFERENCES refunds(id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    event           TEXT NOT NULL,          -- the provider's event name (TRANSACTION.SUCCESS, TRADE_SUCCESS ...)
    url             TEXT NOT NULL,
    snapshot        TEXT NOT NULL,          -- payment (and refund) as they were when the event happened
    status          TEXT NOT NULL,          -- pending | delivered | failed | suppressed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_payment ON notifications (payment_id);

CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id  TEXT NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    at               REAL NOT NULL,        -- when it was made
    due_at           REAL,                 -- when the schedule said it was due
    request_url      TEXT NOT NULL,
    request_headers  TEXT NOT NULL,
    request_body     TEXT NOT NULL,
    response_status  INTEGER,
    response_body    TEXT,
    latency_ms       REAL,
    error            TEXT,
    acknowledged     INTEGER NOT NULL
);
CREATE INDEX attempts_notification ON attempts (notification_id);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id TEXT NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
    at         REAL NOT NULL,
    kind       TEXT NOT NULL,               -- api | state | action | notify
    summary    TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_payment ON events (payment_id);

CREATE TABLE rules (
    id         TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    rule       TEXT NOT NULL,               -- the Rule model as JSON
    created_at REAL NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
