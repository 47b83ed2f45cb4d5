-- Withdrawing a supplier's unused invitations (issue 15: the officer's "Revoke access"
-- revokes every token of the party bound to the auction or tender AND withdraws its links
-- not used yet, so that none of them signs in later). withdrawn_at and withdrawn_by: when
-- and by whom (the officer's sub); both NULL until then. A withdrawn link is never
-- redeemed (410 invitation_withdrawn), and a used one is never withdrawn.
ALTER TABLE invitations
    ADD COLUMN withdrawn_at bigint,
    ADD COLUMN withdrawn_by text,
    ADD CONSTRAINT invitations_withdrawal_recorded
        CHECK ((withdrawn_at IS NULL) = (withdrawn_by IS NULL)),
    ADD CONSTRAINT invitations_used_or_withdrawn
        CHECK (used_at IS NULL OR withdrawn_at IS NULL);

-- The row stays write-once but for one change: its redeem (used_at and jti, once) or its
-- withdrawal (withdrawn_at and withdrawn_by, once), never both, nothing else.
CREATE OR REPLACE FUNCTION invitations_redeem_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.used_at IS NULL AND OLD.withdrawn_at IS NULL
        AND (NEW.code_hash, NEW.auction_id, NEW.party, NEW.role, NEW.created_by,
             NEW.created_at, NEW.expires_at, NEW.token_not_after, NEW.kind)
            IS NOT DISTINCT FROM
            (OLD.code_hash, OLD.auction_id, OLD.party, OLD.role, OLD.created_by,
             OLD.created_at, OLD.expires_at, OLD.token_not_after, OLD.kind)
        AND ((NEW.used_at IS NOT NULL AND NEW.withdrawn_at IS NULL
              AND NEW.withdrawn_by IS NULL)
             OR (NEW.withdrawn_at IS NOT NULL AND NEW.used_at IS NULL AND NEW.jti IS NULL))
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'invitations change only when redeemed or withdrawn, once: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;
