-- Remote probes: agents that are a vantage point without being a silo. An agent key is bound to one
-- vantage name, so an agent cannot speak for another vantage; the other roles have no vantage.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('read', 'probe', 'admin', 'agent'));
ALTER TABLE api_keys ADD COLUMN vantage text CHECK (vantage ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$');
ALTER TABLE api_keys ADD CONSTRAINT api_keys_agent_vantage CHECK ((role = 'agent') = (vantage IS NOT NULL));

-- Results an agent delivered, by the id the agent gave the measurement: written in the transaction that
-- stores the measurement, so a result delivered again (its acknowledgement was lost) is stored once.
CREATE TABLE agent_deliveries (
    delivery_id    uuid        PRIMARY KEY,
    vantage        text        NOT NULL,
    measurement_id bigint      NOT NULL,
    delivered_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_deliveries_time ON agent_deliveries (delivered_at);
