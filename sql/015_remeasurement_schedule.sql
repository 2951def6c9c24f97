-- The targets table is the remeasurement schedule. One Orleans reminder per schedule shard (16 shard
-- grains) replaces one reminder per target: those cost a reminder row, a timer in the reminder
-- service and an activation per target, and a node holds a million targets. A shard takes its due
-- rows in next_due_at order and leases them (next_due_at moves past the probe) in one statement.
ALTER TABLE targets ADD COLUMN schedule_shard smallint
    GENERATED ALWAYS AS ((hashtext(host(ip)) & 15)::smallint) STORED;
DROP INDEX targets_next_due;
CREATE INDEX targets_due ON targets (schedule_shard, next_due_at) WHERE remeasure;

-- The per-target reminders of earlier versions; their targets keep their next_due_at.
DELETE FROM orleans_reminders WHERE remindername IN ('remeasure', 'probe-pending');
