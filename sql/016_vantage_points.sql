-- Vantage points. Every silo serves one named vantage point (CYBERWATCH_VANTAGE); a target is
-- measured from each vantage of its selection, and the pair (target, vantage) is the unit of
-- scheduling and history. The schedule moves from targets to target_vantages, its only owner.

CREATE TABLE vantages (
    name             text        PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    -- Addresses its probes leave from, and what the silo's prefix table says of the first public one.
    source_addresses inet[]      NOT NULL DEFAULT '{}',
    origin_asn       bigint      CHECK (origin_asn BETWEEN 0 AND 4294967295),
    prefix           cidr,
    first_seen       timestamptz NOT NULL DEFAULT now(),
    last_seen        timestamptz NOT NULL DEFAULT now()
);

-- One row per running silo, refreshed every few seconds: which vantage it serves and its probe load.
-- A vantage is up while one of its silos refreshed its row within the last minute.
CREATE TABLE vantage_silos (
    silo              text        PRIMARY KEY,
    vantage           text        NOT NULL REFERENCES vantages (name) ON DELETE CASCADE,
    started_at        timestamptz NOT NULL,
    last_heartbeat    timestamptz NOT NULL,
    probe_engine      text        NOT NULL,
    queued            integer     NOT NULL DEFAULT 0,
    running           integer     NOT NULL DEFAULT 0,
    rate_limit_per_minute integer NOT NULL DEFAULT 0,
    probes_last_minute    integer NOT NULL DEFAULT 0
);
CREATE INDEX vantage_silos_vantage ON vantage_silos (vantage);

-- NULL: every vantage, present now or later; else the names of the vantages that measure it.
ALTER TABLE targets ADD COLUMN vantages text[];

CREATE TABLE target_vantages (
    ip                  inet        NOT NULL REFERENCES targets (ip) ON DELETE CASCADE,
    vantage             text        NOT NULL,
    next_due_at         timestamptz NOT NULL,
    last_measured_at    timestamptz,
    last_measurement_id bigint,
    schedule_shard      smallint    GENERATED ALWAYS AS ((hashtext(host(ip)) & 15)::smallint) STORED,
    PRIMARY KEY (ip, vantage)
);
CREATE INDEX target_vantages_due ON target_vantages (vantage, schedule_shard, next_due_at);

-- What this database measured so far came from the vantage named in its measurements.
INSERT INTO vantages (name, first_seen, last_seen)
SELECT vantage, min(started_at), max(started_at) FROM measurements GROUP BY vantage
ON CONFLICT (name) DO NOTHING;

-- Each remeasured target keeps its due time and last measurement, as a pair with the vantage of
-- its latest measurement; a target never measured gets its pairs when a silo registers its vantage.
INSERT INTO target_vantages (ip, vantage, next_due_at, last_measured_at, last_measurement_id)
SELECT t.ip, m.vantage, coalesce(t.next_due_at, now()), t.last_measured_at, t.last_measurement_id
  FROM targets t
  JOIN LATERAL (SELECT vantage FROM measurements WHERE target = t.ip ORDER BY started_at DESC, id DESC LIMIT 1) m ON true
 WHERE t.remeasure;

DROP INDEX targets_due;
ALTER TABLE targets DROP COLUMN schedule_shard, DROP COLUMN next_due_at, DROP COLUMN remeasure,
    DROP COLUMN last_measured_at, DROP COLUMN last_measurement_id;

ALTER TABLE path_changes ADD COLUMN vantage text;
UPDATE path_changes p SET vantage = m.vantage FROM measurements m WHERE m.id = p.measurement_id;
UPDATE path_changes SET vantage = '' WHERE vantage IS NULL;
ALTER TABLE path_changes ALTER COLUMN vantage SET NOT NULL;
CREATE INDEX path_changes_vantage_time ON path_changes (vantage, detected_at DESC);

CREATE INDEX measurements_target_vantage_time ON measurements (target, vantage, started_at DESC);

-- The schedule shards of earlier versions (one per shard number, any vantage); the per-vantage
-- shards register their own reminders.
DELETE FROM orleans_reminders WHERE remindername = 'remeasurement-shard';
