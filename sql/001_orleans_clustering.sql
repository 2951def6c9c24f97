-- Orleans ADO.NET clustering on PostgreSQL.
-- Written for cyberWatch from the provider's query contract: the provider reads its queries by key
-- from OrleansQuery, binds parameters by name (@DeploymentId, @Address, ...) and reads result
-- columns by name. Table and function names are ours; the keys, parameters and columns are Orleans'.

CREATE TABLE orleansquery (
    querykey  varchar(64) PRIMARY KEY,
    querytext text        NOT NULL
);

CREATE TABLE orleans_membership_version (
    deploymentid varchar(150) PRIMARY KEY,
    timestamp    timestamptz  NOT NULL DEFAULT now(),
    version      integer      NOT NULL DEFAULT 0
);

CREATE TABLE orleans_membership (
    deploymentid varchar(150) NOT NULL REFERENCES orleans_membership_version (deploymentid),
    address      varchar(45)  NOT NULL,
    port         integer      NOT NULL,
    generation   integer      NOT NULL,
    siloname     varchar(150) NOT NULL,
    hostname     varchar(150) NOT NULL,
    status       integer      NOT NULL,
    proxyport    integer,
    suspecttimes text,
    starttime    timestamptz  NOT NULL,
    iamalivetime timestamptz  NOT NULL,
    PRIMARY KEY (deploymentid, address, port, generation)
);

-- Every membership write is conditional on the table version the silo read (optimistic concurrency):
-- the row change and the version bump happen together or not at all. The functions return 1/0
-- as the contract asks instead of raising, so a lost race is an ordinary "false" to Orleans.
CREATE FUNCTION orleans_membership_insert_version(p_deployment varchar)
RETURNS TABLE (row_count integer) LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    INSERT INTO orleans_membership_version (deploymentid) VALUES (p_deployment)
    ON CONFLICT (deploymentid) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN QUERY SELECT n;
END $$;

CREATE FUNCTION orleans_membership_insert(
    p_deployment varchar, p_address varchar, p_port integer, p_generation integer,
    p_silo_name varchar, p_host_name varchar, p_status integer, p_proxy_port integer,
    p_start_time timestamptz, p_i_am_alive timestamptz, p_version integer)
RETURNS TABLE (row_count integer) LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    UPDATE orleans_membership_version
       SET version = version + 1, timestamp = now()
     WHERE deploymentid = p_deployment AND version = p_version;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN QUERY SELECT 0;
        RETURN;
    END IF;
    BEGIN
        INSERT INTO orleans_membership (deploymentid, address, port, generation, siloname, hostname,
                                        status, proxyport, starttime, iamalivetime)
        VALUES (p_deployment, p_address, p_port, p_generation, p_silo_name, p_host_name,
                p_status, p_proxy_port, p_start_time, p_i_am_alive);
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'silo % :% generation % is already in the membership table', p_address, p_port, p_generation
            USING ERRCODE = 'unique_violation';
    END;
    RETURN QUERY SELECT 1;
END $$;

CREATE FUNCTION orleans_membership_update(
    p_deployment varchar, p_address varchar, p_port integer, p_generation integer,
    p_status integer, p_suspect_times text, p_i_am_alive timestamptz, p_version integer)
RETURNS TABLE (row_count integer) LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    UPDATE orleans_membership_version
       SET version = version + 1, timestamp = now()
     WHERE deploymentid = p_deployment AND version = p_version;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN QUERY SELECT 0;
        RETURN;
    END IF;
    UPDATE orleans_membership
       SET status = p_status, suspecttimes = p_suspect_times, iamalivetime = p_i_am_alive
     WHERE deploymentid = p_deployment AND address = p_address AND port = p_port AND generation = p_generation;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        -- the version was bumped for a row that does not exist: undo by failing the statement
        RAISE EXCEPTION 'silo % :% generation % is not in the membership table', p_address, p_port, p_generation;
    END IF;
    RETURN QUERY SELECT 1;
END $$;

INSERT INTO orleansquery (querykey, querytext) VALUES
('InsertMembershipVersionKey',
 'SELECT row_count FROM orleans_membership_insert_version(@DeploymentId)'),
('InsertMembershipKey',
 'SELECT row_count FROM orleans_membership_insert(@DeploymentId, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort, @StartTime, @IAmAliveTime, @Version)'),
('UpdateMembershipKey',
 'SELECT row_count FROM orleans_membership_update(@DeploymentId, @Address, @Port, @Generation, @Status, @SuspectTimes, @IAmAliveTime, @Version)'),
('UpdateIAmAlivetimeKey',
 'UPDATE orleans_membership SET iamalivetime = @IAmAliveTime
   WHERE deploymentid = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation'),
('MembershipReadRowKey',
 'SELECT v.deploymentid AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
         m.siloname AS SiloName, m.hostname AS HostName, m.status AS Status, m.proxyport AS ProxyPort,
         m.suspecttimes AS SuspectTimes, m.starttime AS StartTime, m.iamalivetime AS IAmAliveTime, v.version AS Version
    FROM orleans_membership_version v
    LEFT JOIN orleans_membership m
           ON m.deploymentid = v.deploymentid
          AND m.address = @Address AND m.port = @Port AND m.generation = @Generation
   WHERE v.deploymentid = @DeploymentId'),
('MembershipReadAllKey',
 'SELECT v.deploymentid AS DeploymentId, m.address AS Address, m.port AS Port, m.generation AS Generation,
         m.siloname AS SiloName, m.hostname AS HostName, m.status AS Status, m.proxyport AS ProxyPort,
         m.suspecttimes AS SuspectTimes, m.starttime AS StartTime, m.iamalivetime AS IAmAliveTime, v.version AS Version
    FROM orleans_membership_version v
    LEFT JOIN orleans_membership m ON m.deploymentid = v.deploymentid
   WHERE v.deploymentid = @DeploymentId'),
('DeleteMembershipTableEntriesKey',
 'DELETE FROM orleans_membership WHERE deploymentid = @DeploymentId;
  DELETE FROM orleans_membership_version WHERE deploymentid = @DeploymentId'),
('GatewaysQueryKey',
 'SELECT address AS Address, proxyport AS ProxyPort, generation AS Generation
    FROM orleans_membership
   WHERE deploymentid = @DeploymentId AND status = @Status AND proxyport > 0'),
-- Status 6 is Dead; only dead silos that stopped heart-beating before the cut-off are removed.
('CleanupDefunctSiloEntriesKey',
 'DELETE FROM orleans_membership
   WHERE deploymentid = @DeploymentId AND iamalivetime < @IAmAliveTime AND status = 6'),
-- Removes one dead silo, only if its row is still the one Orleans read (nothing changed since).
('CleanupDefunctSiloEntryKey',
 'DELETE FROM orleans_membership
   WHERE deploymentid = @DeploymentId AND address = @Address AND port = @Port AND generation = @Generation
     AND status = 6 AND starttime = @StartTime AND iamalivetime = @IAmAliveTime
     AND suspecttimes IS NOT DISTINCT FROM @SuspectTimes');
