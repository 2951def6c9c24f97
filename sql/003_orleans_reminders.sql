-- Orleans ADO.NET reminders on PostgreSQL, written from the provider's query contract:
-- parameters @ServiceId @GrainId @ReminderName @StartTime @Period @GrainHash @Version
-- @BeginHash @EndHash; result columns GrainId ReminderName StartTime Period Version.

CREATE TABLE orleans_reminders (
    serviceid    varchar(150) NOT NULL,
    grainid      text         NOT NULL,
    remindername varchar(150) NOT NULL,
    starttime    timestamptz  NOT NULL,
    period       bigint       NOT NULL,
    grainhash    integer      NOT NULL,
    version      integer      NOT NULL,
    PRIMARY KEY (serviceid, grainid, remindername)
);

-- Every silo range-scans its share of the hash ring on each reminder refresh.
CREATE INDEX orleans_reminders_ring ON orleans_reminders (serviceid, grainhash);

INSERT INTO orleansquery (querykey, querytext) VALUES
('UpsertReminderRowKey',
 'INSERT INTO orleans_reminders (serviceid, grainid, remindername, starttime, period, grainhash, version)
  VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 0)
  ON CONFLICT (serviceid, grainid, remindername) DO UPDATE
     SET starttime = excluded.starttime, period = excluded.period, grainhash = excluded.grainhash,
         version = orleans_reminders.version + 1
  RETURNING version AS Version'),
('ReadReminderRowsKey',
 'SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
    FROM orleans_reminders
   WHERE serviceid = @ServiceId AND grainid = @GrainId'),
('ReadReminderRowKey',
 'SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
    FROM orleans_reminders
   WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName'),
('ReadRangeRows1Key',
 'SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
    FROM orleans_reminders
   WHERE serviceid = @ServiceId AND grainhash > @BeginHash AND grainhash <= @EndHash'),
('ReadRangeRows2Key',
 'SELECT grainid AS GrainId, remindername AS ReminderName, starttime AS StartTime, period AS Period, version AS Version
    FROM orleans_reminders
   WHERE serviceid = @ServiceId AND (grainhash > @BeginHash OR grainhash <= @EndHash)'),
('DeleteReminderRowKey',
 'WITH gone AS (
      DELETE FROM orleans_reminders
       WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName AND version = @Version
      RETURNING 1)
  SELECT count(*)::integer FROM gone'),
('DeleteReminderRowsKey',
 'DELETE FROM orleans_reminders WHERE serviceid = @ServiceId');
