-- Orleans ADO.NET grain storage on PostgreSQL, written from the provider's query contract:
-- parameters @GrainIdHash @GrainIdN0 @GrainIdN1 @GrainTypeHash @GrainTypeString
-- @GrainIdExtensionString @ServiceId @GrainStateVersion @PayloadBinary; result columns
-- PayloadBinary and Version on read, NewGrainStateVersion on write/clear/delete.
-- Unlike the stock script, a unique index makes the first insert race-free.

CREATE TABLE orleans_storage (
    grainidhash            integer      NOT NULL,
    grainidn0              bigint       NOT NULL,
    grainidn1              bigint       NOT NULL,
    graintypehash          integer      NOT NULL,
    graintypestring        varchar(512) NOT NULL,
    grainidextensionstring varchar(512),
    serviceid              varchar(150) NOT NULL,
    payloadbinary          bytea,
    modifiedon             timestamptz  NOT NULL DEFAULT now(),
    version                integer      NOT NULL
);

CREATE UNIQUE INDEX orleans_storage_grain
    ON orleans_storage (serviceid, grainidhash, graintypehash, grainidn0, grainidn1, graintypestring,
                        coalesce(grainidextensionstring, ''));

CREATE FUNCTION orleans_storage_write(
    p_id_hash integer, p_n0 bigint, p_n1 bigint, p_type_hash integer, p_type varchar,
    p_ext varchar, p_service varchar, p_version integer, p_payload bytea)
RETURNS TABLE (newgrainstateversion integer) LANGUAGE plpgsql AS $$
DECLARE new_version integer;
BEGIN
    IF p_version IS NULL THEN
        INSERT INTO orleans_storage (grainidhash, grainidn0, grainidn1, graintypehash, graintypestring,
                                     grainidextensionstring, serviceid, payloadbinary, version)
        VALUES (p_id_hash, p_n0, p_n1, p_type_hash, p_type, p_ext, p_service, p_payload, 1)
        ON CONFLICT DO NOTHING
        RETURNING version INTO new_version;
    ELSE
        UPDATE orleans_storage
           SET payloadbinary = p_payload, modifiedon = now(), version = version + 1
         WHERE serviceid = p_service AND grainidhash = p_id_hash AND graintypehash = p_type_hash
           AND grainidn0 = p_n0 AND grainidn1 = p_n1 AND graintypestring = p_type
           AND coalesce(grainidextensionstring, '') = coalesce(p_ext, '')
           AND version = p_version
        RETURNING version INTO new_version;
    END IF;
    -- NULL tells Orleans the ETag did not match (an InconsistentStateException on its side).
    RETURN QUERY SELECT new_version;
END $$;

INSERT INTO orleansquery (querykey, querytext) VALUES
('WriteToStorageKey',
 'SELECT newgrainstateversion AS NewGrainStateVersion FROM orleans_storage_write(@GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId, @GrainStateVersion, @PayloadBinary)'),
('ReadFromStorageKey',
 'SELECT payloadbinary AS PayloadBinary, version AS Version
    FROM orleans_storage
   WHERE serviceid = @ServiceId AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
     AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1 AND graintypestring = @GrainTypeString
     AND coalesce(grainidextensionstring, '''') = coalesce(@GrainIdExtensionString, '''')'),
('ClearStorageKey',
 'UPDATE orleans_storage
     SET payloadbinary = NULL, modifiedon = now(), version = version + 1
   WHERE serviceid = @ServiceId AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
     AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1 AND graintypestring = @GrainTypeString
     AND coalesce(grainidextensionstring, '''') = coalesce(@GrainIdExtensionString, '''')
     AND version = @GrainStateVersion
  RETURNING version AS NewGrainStateVersion'),
('DeleteStorageKey',
 'DELETE FROM orleans_storage
   WHERE serviceid = @ServiceId AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
     AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1 AND graintypestring = @GrainTypeString
     AND coalesce(grainidextensionstring, '''') = coalesce(@GrainIdExtensionString, '''')
     AND version = @GrainStateVersion
  RETURNING version + 1 AS NewGrainStateVersion');
