-- 0001: the project, its pool of samples, leases, the label history,
-- idempotency records and tokens. Never edit once shipped: add 0002_*.sql.

-- One row: what a sample is. Images are height x width x channels of uint8;
-- vector projects have dim > 0 and float32 data (little-endian).
CREATE TABLE project (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    name        TEXT NOT NULL,
    height      INTEGER NOT NULL DEFAULT 0,
    width       INTEGER NOT NULL DEFAULT 0,
    channels    INTEGER NOT NULL DEFAULT 0,
    dim         INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    CHECK ((dim > 0) <> (height > 0 AND width > 0 AND channels IN (1, 3)))
);

-- Classes by index 0..K-1; key is the keyboard key of the page.
CREATE TABLE classes (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    key   TEXT NOT NULL
);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- hash: SHA-256 of the sample bytes, for dedupe. known_label: a label that
-- came with the import (the eval split's truth), never shown for the pool.
-- label / label_id: the current label (the latest one not retracted),
-- kept here so that state queries need no scan of the history.
-- lease_id / lease_expires: the live lease, if any (unix ms).
-- The bytes live in sample_data: rows here stay small, so the pages that
-- every lease and label rewrites hold ~50 samples instead of 4.
CREATE TABLE samples (
    id             INTEGER PRIMARY KEY,
    hash           BLOB NOT NULL UNIQUE,
    external_id    TEXT,
    split          TEXT NOT NULL CHECK (split IN ('pool', 'eval')),
    known_label    INTEGER REFERENCES classes(id),
    created_at     INTEGER NOT NULL,
    label          INTEGER REFERENCES classes(id),
    label_id       INTEGER,
    lease_id       INTEGER,
    lease_expires  INTEGER
);
CREATE INDEX samples_split ON samples(split, id);

-- height x width x channels uint8, or dim float32 little-endian.
CREATE TABLE sample_data (
    id    INTEGER PRIMARY KEY REFERENCES samples(id),
    data  BLOB NOT NULL
);

-- Every lease ever handed out. state: active, done (labeled), released.
-- An active lease past expires_at is expired; that is computed, not stored.
CREATE TABLE leases (
    id          INTEGER PRIMARY KEY,
    sample_id   INTEGER NOT NULL REFERENCES samples(id),
    annotator   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    state       TEXT NOT NULL DEFAULT 'active'
                CHECK (state IN ('active', 'done', 'released'))
);

-- Append-only. A retraction is a row with label NULL and retracts set.
CREATE TABLE labels (
    id             INTEGER PRIMARY KEY,
    sample_id      INTEGER NOT NULL REFERENCES samples(id),
    label          INTEGER REFERENCES classes(id),
    annotator      TEXT NOT NULL,
    lease_id       INTEGER REFERENCES leases(id),
    created_at     INTEGER NOT NULL,
    model_version  INTEGER,
    retracts       INTEGER REFERENCES labels(id),
    CHECK ((label IS NULL) = (retracts IS NOT NULL))
);
CREATE INDEX labels_sample ON labels(sample_id, id);
CREATE UNIQUE INDEX labels_retracts ON labels(retracts);

-- A POST's stored response, replayed for the same key and body.
CREATE TABLE idempotency (
    principal   TEXT NOT NULL,
    key         TEXT NOT NULL,
    body_hash   BLOB NOT NULL,
    status      INTEGER NOT NULL,
    response    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (principal, key)
);

-- Bearer tokens, stored only as SHA-256 hashes.
CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'ingest', 'annotate')),
    hash        BLOB NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
