-- 0002: what the retrain worker keeps: models, their rankings, rounds,
-- and which model's ranking served each lease.

-- A trained model: the engine's checkpoint (core/aral.h) and its SHA-256.
CREATE TABLE models (
    version     INTEGER PRIMARY KEY,
    checkpoint  BLOB NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- A model's ranking of the pool, best first: little-endian arrays of n
-- sample ids (int64), scores (float32, the strategy's sort key: S(z) for
-- aral), pseudo-labels (int32) and confidences (float32). One row per
-- model, written with it, so a restart serves it at once.
CREATE TABLE rankings (
    model_version  INTEGER PRIMARY KEY REFERENCES models(version),
    strategy       TEXT NOT NULL,
    n              INTEGER NOT NULL,
    ids            BLOB NOT NULL,
    scores         BLOB NOT NULL,
    pseudo         BLOB NOT NULL,
    confidence     BLOB NOT NULL
);

-- Every round, published or not. seconds_*: time by phase; losses and
-- per_class are JSON objects.
CREATE TABLE rounds (
    id              INTEGER PRIMARY KEY,
    model_version   INTEGER REFERENCES models(version),
    status          TEXT NOT NULL
                    CHECK (status IN ('published', 'failed', 'cancelled')),
    reason          TEXT,
    strategy        TEXT NOT NULL,
    labels_used     INTEGER NOT NULL,
    seed            INTEGER NOT NULL,
    iterations      INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER NOT NULL,
    seconds_read    REAL NOT NULL DEFAULT 0,
    seconds_train   REAL NOT NULL DEFAULT 0,
    seconds_score   REAL NOT NULL DEFAULT 0,
    seconds_store   REAL NOT NULL DEFAULT 0,
    seconds_publish REAL NOT NULL DEFAULT 0,
    losses          TEXT,
    eval_accuracy   REAL,
    per_class       TEXT
);

ALTER TABLE leases ADD COLUMN model_version INTEGER;
