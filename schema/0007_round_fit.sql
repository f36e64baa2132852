-- 0007: how a round left its classifier (core/aral.h, aral_last_fit). D
-- leaves a round as the average of its weights over the round, unless the
-- average gets more of the labeled samples wrong than the last step: then
-- as the last step (the average took in a collapse the last step had
-- recovered from). How many labels each got wrong, and which one the
-- round kept, are part of its record. NULL where not known: rounds
-- recorded before this migration, and rounds whose training did not end.
ALTER TABLE rounds ADD COLUMN average_wrong INTEGER
    CHECK (average_wrong >= 0);
ALTER TABLE rounds ADD COLUMN last_step_wrong INTEGER
    CHECK (last_step_wrong >= 0);
ALTER TABLE rounds ADD COLUMN kept_last_step INTEGER
    CHECK (kept_last_step IN (0, 1));
