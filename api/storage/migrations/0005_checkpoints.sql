-- Signed checkpoints of the audit logs (issue 5): every checkpoint the server issued,
-- at an opening, a round end, a close, or on request, so an export can hand the auditor
-- the same signed statements bidders were given. A log is a stream: ('auction', id)
-- today, ('tender', id) later. note is the full C2SP signed-note text, verbatim.
-- One row per (stream, size): the root of a size never changes, so a second issue of
-- the same size adds nothing (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE checkpoints (
    stream_kind text   NOT NULL CHECK (stream_kind IN ('auction', 'tender')),
    stream_id   text   NOT NULL,
    size        bigint NOT NULL CHECK (size >= 0),
    root        bytea  NOT NULL CHECK (octet_length(root) = 32),
    issued_at   bigint NOT NULL,
    reason      text   NOT NULL,
    note        text   NOT NULL,
    PRIMARY KEY (stream_kind, stream_id, size)
);

-- Issued statements are never rewritten, like the events they sign.
CREATE FUNCTION checkpoints_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'checkpoints are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER checkpoints_no_update_or_delete
    BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION checkpoints_append_only();
