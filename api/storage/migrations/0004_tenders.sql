-- Sealed tenders (engine.tender): their own append-only event log, the sealed envelopes
-- (ciphertext only: the server never holds a plaintext offer before the opening) and the
-- committee's key shares, each encrypted to its officer. No table ever holds a tender's
-- private opening key or a decrypted share: shares handed in at the opening live in the
-- server's memory until the key is rebuilt and wiped.

-- The log, like events: canonical JSON bytes per (tender_id, seq), never changed.
CREATE TABLE tender_events (
    tender_id text   NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 1),
    type      text   NOT NULL,
    at        bigint NOT NULL,
    payload   bytea  NOT NULL,
    PRIMARY KEY (tender_id, seq)
);

CREATE TRIGGER tender_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON tender_events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TRIGGER tender_events_no_truncate
    BEFORE TRUNCATE ON tender_events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- One row per received envelope, keyed by the seq of its EnvelopeReceived event and
-- written in the same transaction, so a receipt is only ever returned for a stored
-- ciphertext. A replaced or withdrawn envelope stays (the log says it is not live).
CREATE TABLE tender_envelopes (
    tender_id  text   NOT NULL,
    seq        bigint NOT NULL,
    lot_id     text   NOT NULL,
    kind       text   NOT NULL,
    bidder_id  text   NOT NULL,
    commitment text   NOT NULL CHECK (commitment ~ '^[0-9a-f]{64}$'),
    ciphertext bytea  NOT NULL,
    PRIMARY KEY (tender_id, seq),
    FOREIGN KEY (tender_id, seq) REFERENCES tender_events (tender_id, seq)
);

CREATE TRIGGER tender_envelopes_no_update_or_delete
    BEFORE UPDATE OR DELETE ON tender_envelopes
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TRIGGER tender_envelopes_no_truncate
    BEFORE TRUNCATE ON tender_envelopes
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- The key ceremony's output: each officer's share, sealed to that officer's X25519 key
-- and signed by the server (contracts.custody.EncryptedShare.to_json, kept verbatim).
CREATE TABLE tender_shares (
    tender_id  text NOT NULL,
    officer_id text NOT NULL,
    share      text NOT NULL,
    PRIMARY KEY (tender_id, officer_id)
);

CREATE TRIGGER tender_shares_no_update_or_delete
    BEFORE UPDATE OR DELETE ON tender_shares
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
