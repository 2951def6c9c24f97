using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace CyberWatch.Tests.Storage;

public sealed class SchemaMigratorTests
{
    [Fact]
    public void Embedded_migrations_are_numbered_without_gaps()
    {
        var versions = SchemaMigrator.Embedded.Select(m => m.Version).ToList();
        Assert.Equal(Enumerable.Range(1, versions.Count), versions);
    }

    [Fact]
    public void Migration_file_without_a_number_is_refused()
    {
        var error = Assert.Throws<MigrationException>(() => SchemaMigrator.Parse([("schema.sql", "SELECT 1")]));
        Assert.Contains("NNN_name.sql", error.Message);
    }

    [Fact]
    public async Task Fresh_database_gets_every_migration_once_and_rerun_is_a_no_op()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        var migrator = new SchemaMigrator(db.DataSource, NullLogger<SchemaMigrator>.Instance);

        var first = await migrator.MigrateAsync(TestContext.Current.CancellationToken);
        var second = await migrator.MigrateAsync(TestContext.Current.CancellationToken);

        Assert.Equal(SchemaMigrator.Embedded.Count, first.Applied.Count);
        Assert.Empty(second.Applied);
        Assert.Equal(SchemaMigrator.Embedded.Count, second.AlreadyApplied);
        Assert.Equal(SchemaMigrator.Embedded.Count, await db.ScalarAsync<long>("SELECT count(*) FROM schema_migrations"));
    }

    [Fact]
    public async Task Concurrent_migrators_apply_each_migration_once()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            new SchemaMigrator(db.DataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None)));

        Assert.Equal(SchemaMigrator.Embedded.Count, runs.Sum(r => r.Applied.Count));
    }

    [Fact]
    public async Task Changed_migration_after_it_was_applied_is_refused()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        var migrator = new SchemaMigrator(db.DataSource, NullLogger<SchemaMigrator>.Instance);
        await migrator.MigrateAsync([new Migration(1, "first", "CREATE TABLE t1 (x int)")], CancellationToken.None);

        var error = await Assert.ThrowsAsync<MigrationException>(() =>
            migrator.MigrateAsync([new Migration(1, "first", "CREATE TABLE t1 (x bigint)")], CancellationToken.None));
        Assert.Contains("changed after it was applied", error.Message);
    }

    [Fact]
    public async Task Failing_migration_rolls_back_and_names_itself()
    {
        await using var db = await TestDatabase.CreateAsync(migrate: false);
        var migrator = new SchemaMigrator(db.DataSource, NullLogger<SchemaMigrator>.Instance);

        var error = await Assert.ThrowsAsync<MigrationException>(() => migrator.MigrateAsync(
            [new Migration(1, "good", "CREATE TABLE t1 (x int)"), new Migration(2, "bad", "CREATE TABLE t2 (x int); SELECT nope FROM nowhere")],
            CancellationToken.None));

        Assert.Contains("002 (bad)", error.Message);
        Assert.Null(await db.ScalarAsync<string>("SELECT to_regclass('t2')::text"));
        Assert.Equal(1, await db.ScalarAsync<long>("SELECT count(*) FROM schema_migrations"));
    }

    [Fact]
    public async Task Schema_has_the_measurement_tables_and_default_settings()
    {
        await using var db = await TestDatabase.CreateAsync();

        foreach (var table in new[] { "targets", "measurements", "hops", "asns", "as_edges", "path_changes", "dns_queries",
                     "dns_targets", "settings", "asn_stats", "orleansquery", "orleans_membership", "orleans_storage", "orleans_reminders" })
        {
            Assert.Equal(table, await db.ScalarAsync<string>($"SELECT to_regclass('{table}')::text"));
        }
        Assert.Equal(30, await db.ScalarAsync<int>("SELECT (value->>'rate_limit_per_minute')::int FROM settings WHERE key = 'worker_settings'"));
        Assert.Equal(24, await db.ScalarAsync<int>("SELECT (value->>'interval_hours')::int FROM settings WHERE key = 'remeasurement_settings'"));
        Assert.True(await db.ScalarAsync<bool>("SELECT (value->>'asn_expansion_enabled')::boolean FROM settings WHERE key = 'enrichment_settings'"));
        Assert.Equal("orleans_reminders_ring", await db.ScalarAsync<string>(
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'orleans_reminders' AND indexdef LIKE '%(serviceid, grainhash)%'"));
    }

    [Fact]
    public async Task Measurements_land_in_monthly_partitions()
    {
        await using var db = await TestDatabase.CreateAsync();

        await db.ScalarAsync<object>("""
            INSERT INTO measurements (target, tool, method, vantage, started_at, success)
            VALUES ('192.0.2.1', 'scamper', 'icmp-paris', 'test', now(), true)
            """);

        Assert.Equal($"measurements_{DateTime.UtcNow:yyyy_MM}", await db.ScalarAsync<string>("SELECT tableoid::regclass::text FROM measurements"));
    }

    [Fact]
    public async Task Every_orleans_query_key_the_providers_require_is_present()
    {
        await using var db = await TestDatabase.CreateAsync();
        string[] required =
        [
            "GatewaysQueryKey", "MembershipReadRowKey", "MembershipReadAllKey", "InsertMembershipVersionKey", "UpdateIAmAlivetimeKey",
            "InsertMembershipKey", "UpdateMembershipKey", "DeleteMembershipTableEntriesKey", "CleanupDefunctSiloEntriesKey",
            "WriteToStorageKey", "ReadFromStorageKey", "ClearStorageKey", "DeleteStorageKey",
            "ReadReminderRowsKey", "ReadRangeRows1Key", "ReadRangeRows2Key", "ReadReminderRowKey", "UpsertReminderRowKey",
            "DeleteReminderRowKey", "DeleteReminderRowsKey",
        ];
        foreach (var key in required)
        {
            Assert.Equal(1, await db.ScalarAsync<long>($"SELECT count(*) FROM orleansquery WHERE querykey = '{key}'"));
        }
    }
}
