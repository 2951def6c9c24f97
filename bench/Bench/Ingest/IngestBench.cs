using System.Diagnostics;
using System.Diagnostics.Metrics;
using CyberWatch.Configuration;
using CyberWatch.Enrichment;
using CyberWatch.Measurement;
using CyberWatch.Storage;
using CyberWatch.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace CyberWatch.Bench.Ingest;

/// <summary>
/// Synthetic scamper traces through the node's pipeline — parse (ProbeResultMapper) → enrich (HopEnricher, real
/// prefix table) → store (MeasurementWriter, batched binary COPY) → AS path (AsPathExtractor) — against the floor:
/// one binary COPY of the very same measurement and hop rows into the same tables, nothing else.
/// </summary>
public static class IngestBench
{
    public static async Task<int> RunAsync(BenchArgs args)
    {
        var quick = args.Has("quick");
        var count = args.Int("count", quick ? 2_000 : 50_000);
        var runs = args.Int("runs", 3);
        var data = args.Require("data");
        var output = args.Require("out");
        var result = new BenchResult("ingest", quick);
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

        var timer = Stopwatch.StartNew();
        var prefixes = SyntheticTraces.ReadIpv4Prefixes(data);
        var traces = SyntheticTraces.Generate(prefixes, count, seed: 20140513);
        Console.WriteLine($"ingest: {count:N0} synthetic traces, {traces.Average(t => t.Hops):F1} hops on average, {traces.Average(t => t.Json.Length):F0} bytes of JSON each, generated in {timer.ElapsedMilliseconds} ms");

        var options = new CyberWatchOptions { Vantage = "bench", PrefixData = data };
        var table = new PrefixTableService(options, NullLogger<PrefixTableService>.Instance);
        await table.StartAsync(CancellationToken.None);
        await table.FirstLoad;
        if (table.Table.PrefixCount == 0)
        {
            throw new InvalidOperationException($"the prefix table did not load from {data}");
        }
        var enricher = new HopEnricher(table, SpecialAddresses.Standard);
        var mapper = new ProbeResultMapper(options);
        var extractor = new AsPathExtractor();

        await using var db = await BenchDatabase.CreateAsync(args.Require("dsn"), "ingest");
        await db.ExecuteAsync("SELECT cw_ensure_month_partitions((date_trunc('month', now()) - interval '1 month')::date, 3)");

        double storeSeconds = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "cyberwatch.ingest.batch_duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => storeSeconds += value);
        listener.Start();

        var samples = new List<RunSample>();
        MeasurementRow[] rows = [];
        // Run 0 warms up (JIT, tiered compilation, connections) on part of the traces and is not counted.
        for (var run = -1; run < runs; run++)
        {
            await db.ExecuteAsync("TRUNCATE measurements, hops");
            await db.ExecuteAsync("VACUUM ANALYZE measurements");
            storeSeconds = 0;
            var writer = new MeasurementWriter(db.DataSource, NullLogger<MeasurementWriter>.Instance, meters);
            await writer.StartAsync(CancellationToken.None);
            var n = run < 0 ? Math.Min(count / 2, 2_000) : count;
            rows = new MeasurementRow[n];
            var ids = new Task<long>[n];
            long parse = 0, enrich = 0, submit = 0, extract = 0, edges = 0;
            var wall = Stopwatch.StartNew();
            await Task.Run(() =>
            {
                for (var i = 0; i < n; i++)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    var row = mapper.FromScamper(traces[i].Json, traces[i].Target, ProbeMethod.IcmpParis, DateTimeOffset.UtcNow);
                    var t1 = Stopwatch.GetTimestamp();
                    row = enricher.Enrich(row);
                    var t2 = Stopwatch.GetTimestamp();
                    ids[i] = writer.WriteAsync(row);
                    var t3 = Stopwatch.GetTimestamp();
                    edges += extractor.Extract(row.Hops.Select(PathHop.From)).Edges.Count;
                    var t4 = Stopwatch.GetTimestamp();
                    parse += t1 - t0;
                    enrich += t2 - t1;
                    submit += t3 - t2;
                    extract += t4 - t3;
                    rows[i] = row;
                }
            });
            var produced = wall.Elapsed.TotalSeconds;
            await Task.WhenAll(ids);
            var seconds = wall.Elapsed.TotalSeconds;
            await writer.StopAsync(CancellationToken.None);
            if (run < 0)
            {
                continue;
            }
            var perTrace = (double ticks) => ticks * 1e6 / Stopwatch.Frequency / count;
            samples.Add(new RunSample(seconds, produced, perTrace(parse), perTrace(enrich), perTrace(submit), perTrace(extract), storeSeconds * 1e6 / count, edges));
            Console.WriteLine($"  run {run + 1}: {count / seconds:N0} traces/s end to end ({seconds:F2} s; producer done at {produced:F2} s)");
        }

        var storedMeasurements = await db.ScalarAsync<long>("SELECT count(*) FROM measurements");
        var storedHops = await db.ScalarAsync<long>("SELECT count(*) FROM hops");
        var mappedHops = await db.ScalarAsync<long>("SELECT count(*) FROM hops WHERE asn IS NOT NULL");
        var hopRows = rows.Sum(r => (long)r.Hops.Count);
        var failedParses = rows.Count(r => r.FailureReason is not null);
        if (storedMeasurements != count || storedHops != hopRows)
        {
            result.Fail($"stored {storedMeasurements} measurements / {storedHops} hops, expected {count} / {hopRows}");
        }
        if (failedParses > 0)
        {
            result.Fail($"{failedParses} synthetic traces did not parse: {rows.First(r => r.FailureReason is not null).FailureReason}");
        }
        if (mappedHops == 0)
        {
            result.Fail("no hop was mapped to an ASN");
        }

        var floor = new List<double>();
        for (var run = -1; run < runs; run++)
        {
            await db.ExecuteAsync("TRUNCATE measurements, hops");
            await db.ExecuteAsync("VACUUM ANALYZE measurements");
            var wall = Stopwatch.StartNew();
            await CopyAsync(db.DataSource, run < 0 ? rows[..Math.Min(count / 2, 2_000)] : rows);
            if (run < 0)
            {
                continue;
            }
            floor.Add(wall.Elapsed.TotalSeconds);
            Console.WriteLine($"  floor run {run + 1}: {count / floor[^1]:N0} traces/s ({floor[^1]:F2} s)");
        }

        var ours = Stats.Median(samples.Select(s => s.Seconds));
        var theirs = Stats.Median(floor);
        var rate = count / ours;
        result.Add($"traces/s end to end (parse, enrich, store, AS path), {count:N0} traces; floor: binary COPY of the same rows",
            rate, count / theirs, rate / (count / theirs), ">= 5,000 traces/s", rate >= 5000);
        result.Add("time for all traces (s), ours vs floor", ours, theirs, theirs / ours, "<= 2x the floor's time", ours <= 2 * theirs);
        var median = (Func<RunSample, double> f) => Stats.Median(samples.Select(f));
        result.Add("  stage: parse scamper JSON (µs/trace, producer thread)", median(s => s.ParseUs), null, null, null, null);
        result.Add("  stage: enrich hops (µs/trace, producer thread)", median(s => s.EnrichUs), null, null, null, null);
        result.Add("  stage: AS path extraction (µs/trace, producer thread)", median(s => s.ExtractUs), null, null, null, null);
        result.Add("  stage: hand to the writer (µs/trace, producer thread)", median(s => s.SubmitUs), null, null, null, null);
        result.Add("  stage: store, batched COPY (µs/trace, writer, overlaps the producer)", median(s => s.StoreUs), theirs * 1e6 / count,
            theirs * 1e6 / count / median(s => s.StoreUs), null, null);
        result.Setup["traces"] = count;
        result.Setup["runs"] = runs;
        result.Setup["hops_per_trace_mean"] = Math.Round((double)hopRows / count, 2);
        result.Setup["hop_rows"] = hopRows;
        result.Setup["hop_rows_mapped_to_asn"] = mappedHops;
        result.Setup["as_edges_extracted_last_run"] = samples[^1].Edges;
        result.Setup["prefix_table"] = $"{Path.GetFileName(data)}, {table.Table.PrefixCount:N0} prefixes";
        result.Setup["ours_seconds"] = samples.Select(s => Math.Round(s.Seconds, 3)).ToArray();
        result.Setup["producer_seconds"] = samples.Select(s => Math.Round(s.ProducerSeconds, 3)).ToArray();
        result.Setup["floor_seconds"] = floor.Select(s => Math.Round(s, 3)).ToArray();
        result.Setup["synthetic_traces"] = "scamper JSON (attach-mode result lines): private first hop, 30% a CGNAT hop, 3-5 ASes of 2-4 hops from the real ipasn table, 8% silent hops, 90% reach the destination";
        result.Notes.Add("ours: one producer thread parses, enriches and extracts while MeasurementWriter stores batches of up to 1,000 on another; figures are medians of the runs; the tables are truncated before each run");
        result.Notes.Add("floor: the same MeasurementRow objects (already parsed and enriched) in one transaction, one binary COPY per table, ids given, no sequence round trip");
        await result.WriteAsync(output);
        await table.StopAsync(CancellationToken.None);
        return result.Status == "failed" ? 1 : 0;
    }

    private sealed record RunSample(double Seconds, double ProducerSeconds, double ParseUs, double EnrichUs, double SubmitUs, double ExtractUs, double StoreUs, long Edges);

    /// <summary>The floor: the rows as they are, one binary COPY per table, in one transaction.</summary>
    private static async Task CopyAsync(NpgsqlDataSource dataSource, MeasurementRow[] rows)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var copy = await connection.BeginBinaryImportAsync("""
            COPY measurements (id, target, tool, method, vantage, started_at, completed_at, success, stop_reason, failure_reason,
                               hop_count, responding_hops, min_rtt_ms, avg_rtt_ms, max_rtt_ms, dest_rtt_ms, loss_pct,
                               raw_format, raw_result, enrichment_state) FROM STDIN (FORMAT BINARY)
            """))
        {
            for (var i = 0; i < rows.Length; i++)
            {
                var m = rows[i];
                await copy.StartRowAsync();
                await copy.WriteAsync((long)i + 1, NpgsqlDbType.Bigint);
                await copy.WriteAsync(m.Target, NpgsqlDbType.Inet);
                await copy.WriteAsync(m.Tool, NpgsqlDbType.Text);
                await copy.WriteAsync(m.Method, NpgsqlDbType.Text);
                await copy.WriteAsync(m.Vantage, NpgsqlDbType.Text);
                await copy.WriteAsync(m.StartedAt.UtcDateTime, NpgsqlDbType.TimestampTz);
                await Value(copy, m.CompletedAt?.UtcDateTime, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(m.Success, NpgsqlDbType.Boolean);
                await Ref(copy, m.StopReason, NpgsqlDbType.Text);
                await Ref(copy, m.FailureReason, NpgsqlDbType.Text);
                await Value(copy, m.HopCount, NpgsqlDbType.Smallint);
                await Value(copy, m.RespondingHops, NpgsqlDbType.Smallint);
                await Value(copy, m.MinRttMs, NpgsqlDbType.Double);
                await Value(copy, m.AvgRttMs, NpgsqlDbType.Double);
                await Value(copy, m.MaxRttMs, NpgsqlDbType.Double);
                await Value(copy, m.DestRttMs, NpgsqlDbType.Double);
                await Value(copy, m.LossPct, NpgsqlDbType.Real);
                await copy.WriteAsync(m.RawFormat, NpgsqlDbType.Text);
                await Ref(copy, m.RawResult, NpgsqlDbType.Text);
                await copy.WriteAsync(m.EnrichmentState, NpgsqlDbType.Text);
            }
            await copy.CompleteAsync();
        }
        await using (var copy = await connection.BeginBinaryImportAsync("""
            COPY hops (measurement_id, measured_at, ttl, reply_index, address, rtt_ms, rtt_best_ms, rtt_worst_ms, rtt_stdev_ms,
                       loss_pct, reply_ttl, icmp_type, icmp_code, mpls_labels, address_class, asn, origin_asns, prefix, ixp, org,
                       country, enrichment_error) FROM STDIN (FORMAT BINARY)
            """))
        {
            for (var i = 0; i < rows.Length; i++)
            {
                var startedAt = rows[i].StartedAt.UtcDateTime;
                foreach (var hop in rows[i].Hops)
                {
                    await copy.StartRowAsync();
                    await copy.WriteAsync((long)i + 1, NpgsqlDbType.Bigint);
                    await copy.WriteAsync(startedAt, NpgsqlDbType.TimestampTz);
                    await copy.WriteAsync(hop.Ttl, NpgsqlDbType.Smallint);
                    await copy.WriteAsync(hop.ReplyIndex, NpgsqlDbType.Smallint);
                    await Ref(copy, hop.Address, NpgsqlDbType.Inet);
                    await Value(copy, hop.RttMs, NpgsqlDbType.Double);
                    await Value(copy, hop.RttBestMs, NpgsqlDbType.Double);
                    await Value(copy, hop.RttWorstMs, NpgsqlDbType.Double);
                    await Value(copy, hop.RttStdevMs, NpgsqlDbType.Double);
                    await Value(copy, hop.LossPct, NpgsqlDbType.Real);
                    await Value(copy, hop.ReplyTtl, NpgsqlDbType.Smallint);
                    await Value(copy, hop.IcmpType, NpgsqlDbType.Smallint);
                    await Value(copy, hop.IcmpCode, NpgsqlDbType.Smallint);
                    await Ref(copy, hop.MplsLabelsJson, NpgsqlDbType.Jsonb);
                    await Ref(copy, hop.AddressClass, NpgsqlDbType.Text);
                    await Value(copy, hop.Asn, NpgsqlDbType.Bigint);
                    await Ref(copy, hop.OriginAsns, NpgsqlDbType.Array | NpgsqlDbType.Bigint);
                    if (hop.Prefix is { } prefix)
                    {
                        await copy.WriteAsync(new System.Net.IPNetwork(prefix.Network, prefix.Length), NpgsqlDbType.Cidr);
                    }
                    else
                    {
                        await copy.WriteNullAsync();
                    }
                    await Ref(copy, hop.Ixp, NpgsqlDbType.Text);
                    await Ref(copy, hop.Org, NpgsqlDbType.Text);
                    await Ref(copy, hop.Country, NpgsqlDbType.Text);
                    await Ref(copy, hop.EnrichmentError, NpgsqlDbType.Text);
                }
            }
            await copy.CompleteAsync();
        }
        await transaction.CommitAsync();
    }

    private static Task Ref<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type) where T : class =>
        value is null ? copy.WriteNullAsync() : copy.WriteAsync(value, type);

    private static Task Value<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type) where T : struct =>
        value is { } v ? copy.WriteAsync(v, type) : copy.WriteNullAsync();
}
