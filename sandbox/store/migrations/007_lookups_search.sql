-- Lookups that stay fast as payments pile up (issue 14).
-- Every filter of the console list and the admin API has an index that ends in (created_at, id): the list is
-- ordered and paged (keyset) on that pair, newest first, so a page is read straight off the index.
DROP INDEX IF EXISTS payments_created;
CREATE INDEX payments_created ON payments (created_at, id);
CREATE INDEX payments_status_created ON payments (status, created_at, id);
CREATE INDEX payments_merchant_created ON payments (merchant_id, created_at, id);
CREATE INDEX payments_provider_created ON payments (provider, created_at, id);
CREATE INDEX payments_out_trade_no ON payments (out_trade_no);
-- by provider_trade_no alone (search) and with the provider (adapters' queries by transaction_id / trade_no)
DROP INDEX IF EXISTS payments_provider_trade_no;
CREATE INDEX payments_provider_trade_no ON payments (provider_trade_no, provider);
-- deleting a refund (retention, reset) finds its notifications through this
CREATE INDEX notifications_refund ON notifications (refund_id);

-- Search by any fragment of any id: our id, out_trade_no, provider_trade_no and the short values of provider_ids
-- (prepay_id, code_url; long ones such as an image data URI are left out). A contentless FTS5 table with the
-- trigram tokenizer, keyed by the payment's rowid; the triggers keep it in step inside the writing transaction.
-- A contentless row is deleted by repeating the text it was indexed with, hence the one expression used throughout.
CREATE VIRTUAL TABLE payments_ids USING fts5(ids, content='', tokenize='trigram');

CREATE TRIGGER payments_ids_insert AFTER INSERT ON payments BEGIN
    INSERT INTO payments_ids (rowid, ids) VALUES (new.rowid,
        new.id || ' ' || new.out_trade_no || ' ' || new.provider_trade_no || ' ' || COALESCE((SELECT group_concat(atom, ' ') FROM json_each(new.provider_ids) WHERE atom IS NOT NULL AND length(atom) <= 64), ''));
END;

CREATE TRIGGER payments_ids_delete AFTER DELETE ON payments BEGIN
    INSERT INTO payments_ids (payments_ids, rowid, ids) VALUES ('delete', old.rowid,
        old.id || ' ' || old.out_trade_no || ' ' || old.provider_trade_no || ' ' || COALESCE((SELECT group_concat(atom, ' ') FROM json_each(old.provider_ids) WHERE atom IS NOT NULL AND length(atom) <= 64), ''));
END;

CREATE TRIGGER payments_ids_update AFTER UPDATE OF out_trade_no, provider_trade_no, provider_ids ON payments
WHEN old.out_trade_no IS NOT new.out_trade_no OR old.provider_trade_no IS NOT new.provider_trade_no
     OR old.provider_ids IS NOT new.provider_ids
BEGIN
    INSERT INTO payments_ids (payments_ids, rowid, ids) VALUES ('delete', old.rowid,
        old.id || ' ' || old.out_trade_no || ' ' || old.provider_trade_no || ' ' || COALESCE((SELECT group_concat(atom, ' ') FROM json_each(old.provider_ids) WHERE atom IS NOT NULL AND length(atom) <= 64), ''));
    INSERT INTO payments_ids (rowid, ids) VALUES (new.rowid,
        new.id || ' ' || new.out_trade_no || ' ' || new.provider_trade_no || ' ' || COALESCE((SELECT group_concat(atom, ' ') FROM json_each(new.provider_ids) WHERE atom IS NOT NULL AND length(atom) <= 64), ''));
END;

INSERT INTO payments_ids (rowid, ids)
SELECT rowid, id || ' ' || out_trade_no || ' ' || provider_trade_no || ' ' || COALESCE((SELECT group_concat(atom, ' ') FROM json_each(provider_ids) WHERE atom IS NOT NULL AND length(atom) <= 64), '')
  FROM payments;
