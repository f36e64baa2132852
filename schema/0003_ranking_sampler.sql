-- 0003: S(z) of every ranked sample, whatever the strategy, so the page can
-- say it beside the sample (the scores column holds the strategy's own
-- sort key). NULL for rankings stored before this migration.
ALTER TABLE rankings ADD COLUMN sampler BLOB;
