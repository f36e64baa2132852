-- 0008: the token each lease was taken with, so that revoking a token
-- gives its live leases back to the pool at once instead of leaving the
-- samples held until their leases run out (an annotator who left, a
-- leaked token). NULL for leases taken before this migration.
ALTER TABLE leases ADD COLUMN token_id INTEGER REFERENCES tokens(id);
CREATE INDEX leases_token ON leases(token_id, expires_at)
    WHERE token_id IS NOT NULL;
