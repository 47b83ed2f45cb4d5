-- The core tables: the append-only event log and the records the API serves from.
-- Every time is bigint microseconds since the Unix epoch on the server's clock,
-- the same unit the engine uses, so no conversion happens on the hot path.

-- The event log: the source of truth. Each auction's stream is seq 1, 2, 3, ...
-- payload holds the event's canonical JSON bytes verbatim (bytea, not jsonb: jsonb
-- would reorder keys and renormalise numbers, and a replay must see the exact bytes).
-- No foreign key to auctions: the auctions row is a projection written after the
-- events, and a per-row lookup would tax the hottest insert path.
CREATE TABLE events (
    auction_id text   NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 1),
    type       text   NOT NULL,
    at         bigint NOT NULL,
    payload    bytea  NOT NULL,
    PRIMARY KEY (auction_id, seq)
);

-- Append-only, enforced by the database itself so no code path (nor a hurried
-- operator) can rewrite history. TRUNCATE needs its own statement-level trigger.
CREATE FUNCTION events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- rules is json (kept verbatim), not jsonb, for the same reason as events.payload.
CREATE TABLE auctions (
    id         text   PRIMARY KEY,
    format     text   NOT NULL,
    status     text   NOT NULL CHECK (status IN ('scheduled', 'running', 'ended')),
    created_at bigint NOT NULL,
    rules      json   NOT NULL
);

-- Recovery scans for auctions that are not ended; ended ones pile up forever.
CREATE INDEX auctions_not_ended ON auctions (created_at, id) WHERE status <> 'ended';

CREATE TABLE parties (
    id         text   PRIMARY KEY,
    role       text   NOT NULL CHECK (role IN ('officer', 'bidder', 'auditor', 'observer')),
    name       text   NOT NULL,
    created_at bigint NOT NULL
);

-- Issued credentials, by their token id (jti). A token is checked by signature first;
-- this row lets an operator revoke it before it expires. auction_id is NULL for a
-- token that is not bound to one auction (an officer's, say).
CREATE TABLE tokens (
    id         text    PRIMARY KEY,
    party_id   text    NOT NULL REFERENCES parties (id),
    role       text    NOT NULL CHECK (role IN ('officer', 'bidder', 'auditor', 'observer')),
    auction_id text    REFERENCES auctions (id),
    issued_at  bigint  NOT NULL,
    expires_at bigint  NOT NULL,
    revoked    boolean NOT NULL DEFAULT false,
    CHECK (expires_at > issued_at)
);

CREATE INDEX tokens_party ON tokens (party_id);
