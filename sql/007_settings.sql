-- Runtime settings, read live by the silos. Values are JSON objects validated by the API.

CREATE TABLE settings (
    key        text        PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,63}$'),
    value      jsonb       NOT NULL CHECK (jsonb_typeof(value) = 'object'),
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO settings (key, value) VALUES
('worker_settings',
 '{"rate_limit_per_minute": 30, "max_concurrent_traceroutes": 5, "worker_count": 2}'),
('enrichment_settings',
 '{"poll_interval_seconds": 10, "batch_size": 200, "asn_expansion_enabled": true,
   "asn_expansion_interval_minutes": 60, "asn_min_neighbor_count": 5, "asn_max_ips_per_asn": 10}'),
('remeasurement_settings',
 '{"enabled": true, "interval_hours": 24, "batch_size": 100, "targets_per_run": 500}')
ON CONFLICT (key) DO NOTHING;
