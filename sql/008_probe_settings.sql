-- Settings the measurement engine reads besides the seed's: scamper's packet rate, per-prefix
-- spacing, per-target cooldown, hop feedback, jitter. Existing values win over these defaults.
UPDATE settings
   SET value = '{"packets_per_second": 50, "per_prefix_interval_seconds": 2, "target_cooldown_seconds": 60,
                 "hop_feedback_enabled": false, "default_method": "icmp-paris", "probe_attempts": 1, "max_ttl": 30}'::jsonb || value,
       updated_at = now()
 WHERE key = 'worker_settings';

UPDATE settings
   SET value = '{"jitter_fraction": 0.1}'::jsonb || value, updated_at = now()
 WHERE key = 'remeasurement_settings';
