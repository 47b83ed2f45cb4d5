-- Who created each auction (issue 15: the auditor's desk searches finished auctions by
-- buyer). The officer's identity is the creating token's sub; a tender records its
-- creator in its own log (TenderCreated.by), an auction's log does not, so the create
-- route writes one row here once the auction exists. Auctions created before this
-- migration have no row (their buyer is unknown). Written once, never changed.
CREATE TABLE auction_buyers (
    auction_id  text   PRIMARY KEY,
    officer     text   NOT NULL CHECK (officer <> ''),
    recorded_at bigint NOT NULL
);

CREATE INDEX auction_buyers_officer ON auction_buyers (officer);
