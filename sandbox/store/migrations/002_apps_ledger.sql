-- Money that belongs to an app's user (hmall and partner balances in fen, shop points) and every change to it.
-- balance and held are kept equal to the sums of the account's entries by store/ledger.py, in the same transaction.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,            -- "<merchant>:<owner>:<asset>"
    merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
    app         TEXT NOT NULL,               -- hmall | partner | shop
    owner       TEXT NOT NULL,               -- the app's user id
    asset       TEXT NOT NULL,               -- balance (fen) | points
    balance     INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),
    held        INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= balance),
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    UNIQUE (merchant_id, owner, asset)
);

CREATE TABLE ledger_entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('credit', 'debit', 'hold', 'release')),
    amount      INTEGER NOT NULL CHECK (amount > 0),
    payment_id  TEXT REFERENCES payments(id) ON DELETE SET NULL,
    memo        TEXT,
    actor       TEXT,
    at          REAL NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);
CREATE INDEX ledger_entries_payment ON ledger_entries (payment_id);

-- App data that is not money: users (passwords, status, tokens), orders, gift packs, coupons, addresses.
CREATE TABLE app_records (
    merchant_id TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
    app         TEXT NOT NULL,
    kind        TEXT NOT NULL,               -- user | order | gift | coupon | address | token
    id          TEXT NOT NULL,
    lookup      TEXT,                        -- a second key (lower-case username, login token)
    data        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (merchant_id, kind, id)
);
CREATE INDEX app_records_lookup ON app_records (app, kind, lookup) WHERE lookup IS NOT NULL;
CREATE INDEX app_records_app ON app_records (app, kind, created_at);
