-- History: one row per series name, so points carry a small integer key.
CREATE TABLE IF NOT EXISTS history_series (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

-- Raw points, clustered by (series, time) so a range scan of one series reads adjacent
-- pages. `seq` keeps points with the same timestamp apart. `value` has no declared type:
-- numbers (booleans as 0/1) are stored as REAL/INTEGER, strings as TEXT.
CREATE TABLE IF NOT EXISTS history_points (
    series_id INTEGER NOT NULL,
    ts_ms     INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    value,
    PRIMARY KEY (series_id, ts_ms, seq)
) WITHOUT ROWID;

-- Rollups per resolution (`res_ms`), kept by the writer, so a bucketed query over millions
-- of points reads thousands of rows. mn/mx/sum/num cover numeric values only; `count`
-- counts every point; `last` is the newest value (of any kind) at `last_ts`.
CREATE TABLE IF NOT EXISTS history_rollup (
    series_id INTEGER NOT NULL,
    res_ms    INTEGER NOT NULL,
    bucket_ms INTEGER NOT NULL,
    mn        REAL,
    mx        REAL,
    sum       REAL NOT NULL,
    num       INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    last,
    last_ts   INTEGER NOT NULL,
    PRIMARY KEY (series_id, res_ms, bucket_ms)
) WITHOUT ROWID;
