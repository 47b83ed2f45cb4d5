-- Ownership of live streams across Gavel nodes (issue 17): one lease row per auction or
-- tender, and the nodes' own heartbeats. PostgreSQL's clock (clock_timestamp()) is the only
-- clock that decides expiry, so nodes whose clocks differ still agree on who owns what.
-- Times are timestamptz here (operators read them); api.storage.leases hands them out as
-- microseconds since the Unix epoch, the unit of every other table.

-- A stream is owned by `owner` while expires_at is in the future and the lease is not
-- released. epoch is the fencing token: it grows by one at every acquisition of a lease
-- that was not live (a takeover after expiry, a take after a release), never otherwise,
-- and every fenced append checks it, inside its own transaction and under FOR SHARE on
-- this row, so a takeover (which updates the row) waits for that append to commit and an
-- old owner's append after a takeover finds another epoch and stores nothing.
-- renewed_at: the owner's last acquisition or renewal (a takeover measures the ownerless
-- time from it). released: given up by its owner (draining, eviction); any node may take
-- it at once, and its owner can no longer renew it.
CREATE TABLE leases (
    kind       text        NOT NULL CHECK (kind IN ('auction', 'tender')),
    stream_id  text        NOT NULL,
    owner      text        NOT NULL,
    epoch      bigint      NOT NULL CHECK (epoch >= 1),
    renewed_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    released   boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (kind, stream_id)
);

-- The live leases per owner (balancing, renewal): by owner, then expiry.
CREATE INDEX leases_owner ON leases (owner, expires_at);

-- Every node announces itself: its URL (where other nodes and clients reach it), when it
-- started, its last heartbeat, when that heartbeat runs out, and whether it is draining
-- (SIGTERM: it hands its leases over and takes no new ones). A node is live while
-- expires_at is in the future.
CREATE TABLE cluster_nodes (
    node_id      text        PRIMARY KEY,
    url          text        NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    draining     boolean     NOT NULL DEFAULT false
);
