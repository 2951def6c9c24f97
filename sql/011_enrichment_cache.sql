-- Answers of the online enrichment sources (Team Cymru, PeeringDB, RIPEstat), kept until expires_at so a
-- restart does not ask them again. value is the parsed answer; JSON null records that the source had none.
CREATE TABLE enrichment_cache (
    source     text        NOT NULL,
    key        text        NOT NULL,
    value      jsonb       NOT NULL,
    fetched_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (source, key)
);
CREATE INDEX enrichment_cache_expires ON enrichment_cache (expires_at);

-- Registry and PeeringDB facts of an AS beside what measurements say; metadata_sources names the source
-- of each field ({"org_name": "ripestat", ...}), enrichment_errors why a source gave nothing last time.
ALTER TABLE asns
    ADD COLUMN registry               text,
    ADD COLUMN peeringdb_name         text,
    ADD COLUMN info_prefixes4         integer,
    ADD COLUMN info_prefixes6         integer,
    ADD COLUMN ix_count               integer,
    ADD COLUMN announced              boolean,
    ADD COLUMN routing_neighbor_count integer,
    ADD COLUMN metadata_sources       jsonb,
    ADD COLUMN enrichment_errors      jsonb;

-- Global hops without an origin ASN: what the Team Cymru fallback picks up.
CREATE INDEX hops_unmapped ON hops (measured_at) WHERE address_class = 'global' AND asn IS NULL;

-- IXP peering LANs and member interfaces from a PeeringDB full sync (ix, ixlan, ixpfx, netixlan).
CREATE TABLE ixp_prefixes (
    prefix    cidr        PRIMARY KEY,
    ix_id     integer     NOT NULL,
    ix_name   text        NOT NULL,
    synced_at timestamptz NOT NULL
);

CREATE TABLE ixp_members (
    address   inet        PRIMARY KEY,
    asn       bigint      NOT NULL CHECK (asn BETWEEN 0 AND 4294967295),
    synced_at timestamptz NOT NULL
);
