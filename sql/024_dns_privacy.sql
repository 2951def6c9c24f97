-- The dns role (issue 16): read plus what the local resolver's queries reveal (/dns/*, DNS-sourced targets).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('read', 'probe', 'dns', 'admin', 'agent'));
