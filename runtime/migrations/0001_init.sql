-- Persistent context: one JSON object per (store, scope), written in batches by the flush task.
CREATE TABLE IF NOT EXISTS context (
    store TEXT NOT NULL,
    scope TEXT NOT NULL,
    data  TEXT NOT NULL,
    PRIMARY KEY (store, scope)
);

-- Every deploy, so a user can list revisions and roll back.
CREATE TABLE IF NOT EXISTS flow_revisions (
    rev        TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    flows      TEXT NOT NULL
);
