-- The dns role (issue 16): read plus what the local resolver's queries reveal (/dns/*, DNS-sourced targets).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('read', 'probe', 'dns', 'admin', 'agent'));

-- DNS retention (issue 16): days, not months, of what the resolver saw; pruned by the silo's daily retention run.
-- Written into the row so an operator sees the knobs; values already set are kept.
UPDATE settings SET value = '{"dns_query_days": 30, "dns_target_days": 30, "dns_handoff_days": 7}'::jsonb || value
 WHERE key = 'retention_settings';
