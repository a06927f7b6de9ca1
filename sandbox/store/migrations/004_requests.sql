-- The request journal (issue 12): every call a provider or app path received, accepted or not. `seq` orders them
-- (and is what retention trims by); `id` is made before the answer is sent, so an answer can name its entry.
CREATE TABLE requests (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    at               REAL NOT NULL,            -- sandbox clock
    real_at          REAL NOT NULL,            -- wall clock
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    query            TEXT NOT NULL DEFAULT '',
    provider         TEXT,                     -- the provider or app whose paths these are (by prefix)
    request_headers  TEXT NOT NULL,            -- JSON [[name, value], ...] in the order received
    request_body     BLOB NOT NULL,            -- capped
    request_size     INTEGER NOT NULL,         -- the real size
    status           INTEGER,
    response_headers TEXT NOT NULL,
    response_body    BLOB NOT NULL,            -- capped
    response_size    INTEGER NOT NULL,
    latency_ms       REAL NOT NULL,
    merchant_id      TEXT,
    payment_id       TEXT,
    verdict          TEXT NOT NULL,            -- accepted | rejected | faulted
    code             TEXT,                     -- the error code the client saw
    reason           TEXT,
    rule_id          TEXT,                     -- the fault rule
    diagnosis        TEXT,                     -- JSON: the signature doctor's findings
    suggestion       TEXT                      -- a path nobody serves: the nearest real one
);

-- Indexes for the filters that an ordinary call's row does not pay for: merchant and payment (every accepted call
-- writes these), refused calls (a partial index: accepted rows never touch it). Provider, path and time filters
-- walk the rows newest first (seq), as the lists do anyway.
CREATE INDEX requests_merchant ON requests (merchant_id, seq);
CREATE INDEX requests_payment ON requests (payment_id, seq) WHERE payment_id IS NOT NULL;
CREATE INDEX requests_refused ON requests (verdict, seq) WHERE verdict != 'accepted';
