-- One-time invitation links (issue 14): an officer invites a registered bidder of an
-- auction and hands the supplier a link whose fragment holds a code; the supplier's page
-- exchanges the code, once, for the bidder's token.
--
-- code_hash is SHA-256 of the code: the code itself is never stored, so whoever reads
-- this table (or a backup of it) holds no usable link. auction_id names an auction or a
-- tender (one namespace, as a token's binding). Times are microseconds since the epoch.
-- token_not_after: the latest expiry of the token a redeem mints (the issuing officer's
-- own expiry when that officer's token was bound to the auction); NULL: no such limit.
-- jti: the token the redeem gave (its row is in tokens, revocable there).
--
-- Append-friendly: a row is inserted once and changes once, when it is redeemed
-- (used_at and jti set together, nothing else); it is never deleted.
CREATE TABLE invitations (
    code_hash       bytea  PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    auction_id      text   NOT NULL CHECK (auction_id <> ''),
    party           text   NOT NULL CHECK (party <> ''),
    role            text   NOT NULL CHECK (role <> ''),
    created_by      text   NOT NULL,
    created_at      bigint NOT NULL,
    expires_at      bigint NOT NULL CHECK (expires_at > created_at),
    token_not_after bigint,
    used_at         bigint,
    jti             text,
    CONSTRAINT invitations_redeemed_with_token CHECK ((used_at IS NULL) = (jti IS NULL))
);

-- An officer's view of an auction's invitations (and an auditor's, later).
CREATE INDEX invitations_by_auction ON invitations (auction_id, party);

CREATE FUNCTION invitations_redeem_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.used_at IS NULL AND NEW.used_at IS NOT NULL
        AND (NEW.code_hash, NEW.auction_id, NEW.party, NEW.role, NEW.created_by,
             NEW.created_at, NEW.expires_at, NEW.token_not_after)
            IS NOT DISTINCT FROM
            (OLD.code_hash, OLD.auction_id, OLD.party, OLD.role, OLD.created_by,
             OLD.created_at, OLD.expires_at, OLD.token_not_after)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'invitations change only when redeemed, once: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER invitations_no_rewrite
    BEFORE UPDATE OR DELETE ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitations_redeem_only();
