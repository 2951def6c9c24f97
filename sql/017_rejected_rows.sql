-- Rows PostgreSQL refused for their data (SQLSTATE classes 22 and 23): a batch that holds one is split
-- until the refused rows stand alone; they land here so the rest of the batch, and ingestion, go on.
CREATE TABLE rejected_rows (
    id          bigserial   PRIMARY KEY,
    table_name  text        NOT NULL,
    payload     jsonb       NOT NULL,
    error       text        NOT NULL,
    sqlstate    text        NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejected_rows_table ON rejected_rows (table_name, rejected_at);
