-- API keys of the looking glass. Only the SHA-256 of a key is stored; the key's short id (its first
-- characters, also written in clear) finds the row without scanning.
CREATE TABLE api_keys (
    id           text        PRIMARY KEY CHECK (id ~ '^[a-z0-9]{8}$'),
    secret_hash  bytea       NOT NULL CHECK (length(secret_hash) = 32),
    role         text        NOT NULL CHECK (role IN ('read', 'probe', 'admin')),
    name         text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
