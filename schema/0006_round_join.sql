-- 0006: whether a round's ranking clustered D's features joined with the
-- pool's whitened principal components (core/score.h,
-- score_joins_components): typical-mass does after a random start, so the
-- embedding that ordered a round is part of its record, as its order rule
-- is (0005). NULL where it is not known: rounds recorded before this
-- migration, and rounds that failed before ordering the pool.
ALTER TABLE rounds ADD COLUMN joined_components INTEGER
    CHECK (joined_components IN (0, 1));
