-- Invitations for a tender's supplier (issue 14): an officer of a tender's committee invites
-- a party, and the supplier's page exchanges the link's code, once, for that party's bidder
-- token bound to the tender. auction_id already names an auction or a tender (one
-- namespace); kind says which, so a redeem answers with the right id and the page opens
-- the right view. Rows issued before this migration are auction invitations.
ALTER TABLE invitations
    ADD COLUMN kind text NOT NULL DEFAULT 'auction' CHECK (kind IN ('auction', 'tender'));

-- The row stays write-once but for its redeem: kind is as fixed as the rest.
CREATE OR REPLACE FUNCTION invitations_redeem_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.used_at IS NULL AND NEW.used_at IS NOT NULL
        AND (NEW.code_hash, NEW.auction_id, NEW.party, NEW.role, NEW.created_by,
             NEW.created_at, NEW.expires_at, NEW.token_not_after, NEW.kind)
            IS NOT DISTINCT FROM
            (OLD.code_hash, OLD.auction_id, OLD.party, OLD.role, OLD.created_by,
             OLD.created_at, OLD.expires_at, OLD.token_not_after, OLD.kind)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'invitations change only when redeemed, once: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
