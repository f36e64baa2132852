-- 0009: the labeled samples by id, so that what reads only them costs the
-- labels, not the pool: the dashboard's per-class and per-annotator counts
-- (GET /v1/stats, on every labels event) and the export. In a pool of
-- 1,000,000 images with 500 labels, a scan of every sample took 145 ms
-- for the counts and 75 ms for the export (bench/run_pool_reads.sh).
CREATE INDEX samples_labeled ON samples(id, label) WHERE label IS NOT NULL;
