-- DNS handoff: the 'none' domain policy (counts and addresses without any domain), the origin ASN of
-- each resolved address (for /dns/top-asns), and the journal that makes a replayed stream entry a no-op.

ALTER TABLE dns_queries DROP CONSTRAINT dns_queries_domain_policy_check;
ALTER TABLE dns_queries ADD CONSTRAINT dns_queries_domain_policy_check CHECK (domain_policy IN ('plain', 'hashed', 'none'));
ALTER TABLE dns_targets DROP CONSTRAINT dns_targets_domain_policy_check;
ALTER TABLE dns_targets ADD CONSTRAINT dns_targets_domain_policy_check CHECK (domain_policy IN ('plain', 'hashed', 'none'));

ALTER TABLE dns_targets ADD COLUMN asn bigint CHECK (asn BETWEEN 0 AND 4294967295);
CREATE INDEX dns_targets_last_seen ON dns_targets (last_seen);

CREATE TABLE dns_handoff_applied (
    entry_id   uuid        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dns_handoff_applied_at ON dns_handoff_applied (applied_at);
