using System.Diagnostics;
using System.Net;
using System.Text.Json;
using CyberWatch.Tests.Infrastructure;

namespace CyberWatch.Tests.Operations;

/// <summary>
/// The alert rules checked and unit-tested with promtool, and a real Prometheus scraping a running
/// silo's /metrics and evaluating the rules on what it scraped (Debian package prometheus).
/// </summary>
public sealed class PrometheusTests
{
    private static string RulesFolder => Path.Combine(Repository.Root, "prometheus");

    [Fact]
    public async Task Alert_rules_are_valid_and_their_unit_tests_pass()
    {
        var promtool = Tool("promtool");
        var check = await RunAsync(promtool, RulesFolder, "check", "rules", "alerts.yml");
        Assert.True(check.ExitCode == 0, check.Output);
        Assert.Contains("SUCCESS: 9 rules found", check.Output);
        var test = await RunAsync(promtool, RulesFolder, "test", "rules", "alerts.test.yml");
        Assert.True(test.ExitCode == 0, test.Output);
    }

    [Fact]
    public async Task Prometheus_scrapes_a_running_silo_and_the_stall_alert_sees_its_due_targets()
    {
        var prometheusBinary = Tool("prometheus");
        await using var database = await TestDatabase.CreateAsync();
        // Two targets due for an hour from a vantage point with no silo: due and overdue without any probe.
        await database.ScalarAsync<object>("""
            INSERT INTO vantages (name) VALUES ('ghost');
            INSERT INTO targets (ip, sources, vantages) VALUES ('127.0.0.10', ARRAY['static'], ARRAY['ghost']), ('127.0.0.11', ARRAY['static'], ARRAY['ghost']);
            INSERT INTO target_vantages (ip, vantage, next_due_at)
            VALUES ('127.0.0.10', 'ghost', now() - interval '1 hour'), ('127.0.0.11', 'ghost', now() - interval '1 hour');
            """);
        var directory = Directory.CreateTempSubdirectory("cw-prometheus-").FullName;
        try
        {
            var node = new NodeEnvironment(database.ConnectionString, "cw-" + Guid.NewGuid().ToString("n")[..8]);
            var environment = node.Silo(out _, out _, out var siloHttp);
            environment["CYBERWATCH_LOG_FILE"] = Path.Combine(directory, "{component}.log");
            await using var silo = NodeProcess.Start(Repository.SiloDll, environment, "run");
            await silo.WaitForHttpAsync($"{siloHttp}/healthz", TimeSpan.FromSeconds(90));

            var port = Repository.FreeTcpPort();
            var config = Path.Combine(directory, "prometheus.yml");
            await File.WriteAllTextAsync(config, $"""
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                  - {Path.Combine(RulesFolder, "alerts.yml")}
                scrape_configs:
                  - job_name: cyberwatch-silo
                    static_configs:
                      - targets: ['{new Uri(siloHttp).Authority}']
                """);
            using var prometheus = Process.Start(new ProcessStartInfo(prometheusBinary)
            {
                ArgumentList = { $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
                                 $"--web.listen-address=127.0.0.1:{port}" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
            prometheus.ErrorDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
            prometheus.BeginErrorReadLine();
            prometheus.BeginOutputReadLine();
            try
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
                var due = await EventuallyAsync(http, "max(cyberwatch_targets_due{vantage=\"ghost\"})", log);
                Assert.Equal("2", due);
                // The silo's own vantage point answers; the ghost has no silo.
                Assert.Equal("0", await EventuallyAsync(http, "max(cyberwatch_vantage_silos_answering{vantage=\"ghost\"})", log));
                // Its silo reports in a few seconds after start; the status gauge follows on its next poll.
                var answering = await EventuallyAsync(http, "sum(cyberwatch_vantage_silos_answering)", log);
                for (var until = DateTime.UtcNow.AddSeconds(60); answering != "1" && DateTime.UtcNow < until; await Task.Delay(500))
                {
                    answering = await EventuallyAsync(http, "sum(cyberwatch_vantage_silos_answering)", log);
                }
                Assert.Equal("1", answering);
                Assert.Equal("1", await EventuallyAsync(http, "up{job=\"cyberwatch-silo\"}", log));
                Assert.Equal("2", await EventuallyAsync(http, "max(cyberwatch_targets_overdue)", log));
                foreach (var gauge in new[] { "cyberwatch_targets_total", "cyberwatch_enrichment_backlog", "cyberwatch_probe_queue_depth",
                                              "cyberwatch_dns_last_query_hour_seconds", "cyberwatch_ingest_buffered" })
                {
                    await EventuallyAsync(http, gauge, log);
                }
                // Counters the alerts take increase() or rate() of are there from the start, at zero.
                foreach (var counter in new[] { "cyberwatch_scamper_restarts_total", "cyberwatch_postgres_errors_total",
                                                "cyberwatch_ingest_store_failures_total" })
                {
                    Assert.Equal("0", await EventuallyAsync(http, $"sum({counter})", log));
                }

                // Every rule evaluates without error on real series, and the stall and tardiness rules see the due targets.
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                List<(string Name, string Health, string State)> rules;
                while (true)
                {
                    using var json = JsonDocument.Parse(await http.GetStringAsync("/api/v1/rules"));
                    rules = json.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
                        .SelectMany(g => g.GetProperty("rules").EnumerateArray())
                        .Select(r => (r.GetProperty("name").GetString()!, r.GetProperty("health").GetString()!, r.GetProperty("state").GetString()!))
                        .ToList();
                    if (rules.Count == 9 && rules.All(r => r.Health == "ok") && rules.Any(r => r.Name == "CyberWatchPipelineStalled" && r.State == "pending")
                        && rules.Any(r => r.Name == "CyberWatchVantageDown" && r.State == "pending")
                        || DateTime.UtcNow > deadline)
                    {
                        break;
                    }
                    await Task.Delay(500);
                }
                Assert.Equal(9, rules.Count);
                Assert.All(rules, r => Assert.True(r.Health == "ok", $"{r.Name} is {r.Health}"));
                Assert.Equal("pending", rules.Single(r => r.Name == "CyberWatchPipelineStalled").State);
                Assert.Equal("pending", rules.Single(r => r.Name == "CyberWatchRemindersTardy").State);
                Assert.Equal("pending", rules.Single(r => r.Name == "CyberWatchVantageDown").State);
                Assert.Equal("inactive", rules.Single(r => r.Name == "CyberWatchPostgresErrors").State);
            }
            finally
            {
                prometheus.Kill();
                await prometheus.WaitForExitAsync();
            }

            // The silo's own log file: JSON Lines from the start-up.
            var lines = await File.ReadAllLinesAsync(Path.Combine(directory, "silo.log"));
            Assert.Contains(lines, l => l.Contains("\"component\":\"silo\"") && l.Contains("\"logger\":\"Microsoft.Hosting.Lifetime\""));
            Assert.All(lines, l => JsonDocument.Parse(l).Dispose());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<string> EventuallyAsync(HttpClient http, string query, IEnumerable<string> log)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await http.GetStringAsync($"/api/v1/query?query={WebUtility.UrlEncode(query)}");
                using var json = JsonDocument.Parse(last);
                var result = json.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0)
                {
                    return result[0].GetProperty("value")[1].GetString()!;
                }
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (TaskCanceledException e)
            {
                last = e.Message;
            }
            await Task.Delay(500);
        }
        throw new TimeoutException($"Prometheus has no result for {query} (last: {last}); its log:\n{string.Join('\n', log.TakeLast(30))}");
    }

    /// <summary>The tool's path, or a skip naming the package that brings it.</summary>
    private static string Tool(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        Assert.Skip($"{name} is not installed (Debian package prometheus; scripts/test installs it)");
        return name;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string tool, string directory, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await error);
    }
}
