-- Snapshots, so recovery replays only a stream's tail, and idempotency keys, so a
-- retried command returns its first answer.

-- A snapshot folds events 1..seq of its auction; recovery takes the highest seq.
-- payload is opaque bytes serialised by the runner.
CREATE TABLE snapshots (
    auction_id text   NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 1),
    payload    bytea  NOT NULL,
    PRIMARY KEY (auction_id, seq)
);

-- One row per (party, Idempotency-Key). The row is inserted before the command runs
-- (status_code and response_body NULL: in progress), so a racing duplicate hits the
-- primary key instead of running the command twice. request_hash tells a true retry
-- (same body) from a reuse of the key with another body, which is rejected.
CREATE TABLE idempotency_keys (
    party_id      text    NOT NULL,
    key           text    NOT NULL,
    request_hash  bytea   NOT NULL,
    status_code   integer CHECK (status_code BETWEEN 100 AND 599),
    response_body bytea,
    created_at    bigint  NOT NULL,
    PRIMARY KEY (party_id, key),
    CHECK ((status_code IS NULL) = (response_body IS NULL))
);

-- Expired keys are swept by age.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
