-- 0005: whether a round's ranking put D's most uncertain samples first
-- (core/score.h, score_uncertain_first): typical-mass does from 30 labels
-- a class on, so the rule that ordered a round is part of its record.
-- NULL where it is not known: rounds recorded before this migration, and
-- rounds that failed before ordering the pool.
ALTER TABLE rounds ADD COLUMN uncertain_first INTEGER
    CHECK (uncertain_first IN (0, 1));
