-- 0004: a sample its annotator skipped is not leased to that annotator
-- again. DELETE /v1/leases/{id} gives a sample back as a skip (skipped = 1)
-- unless it says ?reason=return (handed back unseen, as the page does when
-- its annotator signs out). Leases released before this migration count as
-- returned: nobody said which they were.
ALTER TABLE leases ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0
    CHECK (skipped IN (0, 1));
CREATE INDEX leases_skipped ON leases(sample_id, annotator) WHERE skipped = 1;
