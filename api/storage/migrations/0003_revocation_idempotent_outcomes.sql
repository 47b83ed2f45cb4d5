-- Token revocation, response headers of idempotent answers, and the committed outcome
-- of an idempotent command recorded in the same transaction as its events.

-- Every issued token gets a row, including tokens for parties and auctions the server
-- has no row for (an officer may issue a token before the auction exists, and parties
-- are not registered anywhere else): the foreign keys of 0001 would refuse them.
ALTER TABLE tokens DROP CONSTRAINT IF EXISTS tokens_party_id_fkey;
ALTER TABLE tokens DROP CONSTRAINT IF EXISTS tokens_auction_id_fkey;
ALTER TABLE tokens
    ADD COLUMN revoked_at bigint,
    ADD COLUMN revoked_by text,
    ADD CONSTRAINT tokens_revocation_recorded CHECK (revoked = (revoked_at IS NOT NULL));

-- Start-up loads the revoked tokens that have not expired yet into memory.
CREATE INDEX tokens_revoked ON tokens (expires_at) WHERE revoked;

-- response_headers: the headers of a stored answer that a replay must repeat
-- (Location of a 201), as a JSON object of strings; NULL for none.
-- command_id, auction_id, first_seq, last_seq: set by the group-commit writer in the
-- transaction that commits the command's events (seqs first_seq..last_seq of
-- auction_id), so a retry after a crash between that commit and the stored answer
-- rebuilds the answer from the log instead of running the command a second time.
-- command_id is chosen at reservation and kept when an abandoned reservation is
-- taken over.
ALTER TABLE idempotency_keys
    ADD COLUMN response_headers text,
    ADD COLUMN command_id text,
    ADD COLUMN auction_id text,
    ADD COLUMN first_seq bigint,
    ADD COLUMN last_seq bigint,
    ADD CONSTRAINT idempotency_keys_outcome_range
        CHECK ((first_seq IS NULL) = (last_seq IS NULL) AND (first_seq IS NULL OR first_seq <= last_seq));
