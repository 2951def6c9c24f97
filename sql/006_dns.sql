-- DNS-driven targets. Aggregates only: no client identifier is ever stored.

CREATE TABLE dns_queries (
    domain_key      text        NOT NULL,
    domain_policy   text        NOT NULL CHECK (domain_policy IN ('plain', 'hashed')),
    qtype           text        NOT NULL,
    hour            timestamptz NOT NULL,
    query_count     bigint      NOT NULL DEFAULT 0,
    suspicion_score real,
    PRIMARY KEY (domain_key, qtype, hour)
);
CREATE INDEX dns_queries_hour ON dns_queries (hour);

CREATE TABLE dns_targets (
    domain_key    text        NOT NULL,
    domain_policy text        NOT NULL CHECK (domain_policy IN ('plain', 'hashed')),
    ip            inet        NOT NULL,
    first_seen    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz NOT NULL DEFAULT now(),
    resolve_count bigint      NOT NULL DEFAULT 1,
    PRIMARY KEY (domain_key, ip)
);
CREATE INDEX dns_targets_ip ON dns_targets (ip);
