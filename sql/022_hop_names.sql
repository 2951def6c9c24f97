-- Reverse DNS names of hop addresses (PTR), one row per address, kept until the answer's TTL runs out:
-- a name is a fact about the address, not about one measurement, so hops are not rewritten when it arrives;
-- readers join on the address. hostname is NULL for a negative answer (NXDOMAIN, no PTR record), which is
-- cached as well (for the SOA's negative TTL), and for a failed lookup, retried after a short while.
CREATE TABLE hop_names (
    address     inet        PRIMARY KEY,
    hostname    text,
    status      text        NOT NULL CHECK (status IN ('name', 'nxdomain', 'nodata', 'failed')),
    error       text,
    resolved_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX hop_names_expires ON hop_names (expires_at);

-- How far the name resolver has read the measurements (by id); one row. The resolver rereads a margin
-- below it, because ids are taken before commit and a lower id can commit after a higher one.
CREATE TABLE hop_name_progress (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_measurement bigint  NOT NULL
);
