using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using CyberWatch.Storage;
using CyberWatch.Tests.Infrastructure;
using CyberWatch.Watch.Incidents;
using CyberWatch.Watch.Incidents.Alerts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CyberWatch.Tests.Watch;

/// <summary>
/// Incidents delivered as alerts (sql/023, <see cref="IncidentNotifier"/>): to a webhook receiver directly, and
/// through a real Alertmanager (Debian's prometheus-alertmanager, run on loopback) to the same kind of receiver.
/// </summary>
public sealed class IncidentAlertTests : IAsyncLifetime
{
    private static readonly IPAddress Target = IPAddress.Parse("30.14.1.10");
    private TestDatabase db = null!;
    private IncidentStore store = null!;
    private readonly ServiceProvider services = new ServiceCollection().AddHttpClient().AddMetrics().BuildServiceProvider();

    public async ValueTask InitializeAsync()
    {
        db = await TestDatabase.CreateAsync();
        store = new IncidentStore(db.DataSource);
    }

    public async ValueTask DisposeAsync()
    {
        if (db is not null)
        {
            await db.DisposeAsync();
        }
        await services.DisposeAsync();
    }

    [Fact]
    public async Task Webhook_gets_one_firing_and_one_resolved_per_incident_and_a_restart_sends_neither_again()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var options = new IncidentAlertOptions { Webhooks = receiver.Url, ExternalUrl = "https://cw.example.net", RetryDelaySeconds = 0.01 };
        var now = DateTimeOffset.UtcNow;
        var id = await store.OpenAsync(IncidentKind.Loss, Target, "home", now.AddMinutes(-10), new { loss_pct = 15 }, CancellationToken.None);

        var notifier = Notifier(options);
        Assert.Equal(1, await notifier.DeliverAsync(CancellationToken.None));
        Assert.Equal(0, await notifier.DeliverAsync(CancellationToken.None));
        var firing = Assert.Single(receiver.Received);
        Assert.Equal("firing", firing["status"]!.GetValue<string>());
        Assert.Equal("4", firing["version"]!.GetValue<string>());
        var alert = firing["alerts"]![0]!;
        Assert.Equal("CyberWatchIncident", alert["labels"]!["alertname"]!.GetValue<string>());
        Assert.Equal(id.ToString(), alert["labels"]!["incident_id"]!.GetValue<string>());
        Assert.Equal("loss", alert["labels"]!["kind"]!.GetValue<string>());
        Assert.Equal("home", alert["labels"]!["vantage"]!.GetValue<string>());
        Assert.Equal("0001-01-01T00:00:00Z", alert["endsAt"]!.GetValue<string>());
        Assert.Equal($"https://cw.example.net/incidents/{id}", alert["generatorURL"]!.GetValue<string>());

        Assert.True(await store.ResolveAsync(IncidentKind.Loss, Target, "home", now, new { loss_pct = 0 }, CancellationToken.None));
        Assert.Equal(1, await notifier.DeliverAsync(CancellationToken.None));
        // A restarted silo (a new notifier on the same table) sends nothing again.
        Assert.Equal(0, await Notifier(options).DeliverAsync(CancellationToken.None));
        Assert.Equal(["firing", "resolved"], receiver.Received.Select(r => r["status"]!.GetValue<string>()));
        var resolved = receiver.Received[1]["alerts"]![0]!;
        Assert.Equal(alert["fingerprint"]!.GetValue<string>(), resolved["fingerprint"]!.GetValue<string>());
        Assert.Equal(0, (await store.GetAsync(id, TargetScope.IncludingDns, CancellationToken.None))!.After!.Value.GetProperty("loss_pct").GetInt32());
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM incident_notifications WHERE delivered_at IS NOT NULL AND attempts = 1"));
    }

    [Fact]
    public async Task Webhook_that_fails_is_retried_then_kept_as_a_dead_letter_and_counted()
    {
        await using var receiver = await WebhookReceiver.StartAsync(HttpStatusCode.ServiceUnavailable);
        var refused = FreePort(); // nothing listens there: connection refused, also retried
        var options = new IncidentAlertOptions { Webhooks = $"{receiver.Url}, http://127.0.0.1:{refused}/hook", Retries = 2, RetryDelaySeconds = 0.01 };
        var id = await store.OpenAsync(IncidentKind.Unreachable, Target, "home", DateTimeOffset.UtcNow, new { }, CancellationToken.None);
        var deadLetters = 0L;
        var meters = services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == "cyberwatch.incident_notifications")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "outcome", Value: "dead_letter" })
                {
                    Interlocked.Add(ref deadLetters, value);
                }
            }
        });
        listener.Start();

        Assert.Equal(0, await Notifier(options).DeliverAsync(CancellationToken.None));

        Assert.Equal(3, receiver.Attempts); // the first try and two retries
        Assert.Empty(receiver.Received);
        Assert.Equal(2, Interlocked.Read(ref deadLetters));
        var errors = new List<string>();
        await using (var command = db.DataSource.CreateCommand(
            $"SELECT last_error FROM incident_notifications WHERE incident_id = {id} AND status = 'firing' AND dead_at IS NOT NULL AND delivered_at IS NULL"))
        await using (var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                errors.Add(reader.GetString(0));
            }
        }
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Contains("503"));
        Assert.Contains(errors, e => !e.Contains("503"));
        // A dead letter is not tried again at the next pass.
        Assert.Equal(0, await Notifier(options).DeliverAsync(CancellationToken.None));
        Assert.Equal(3, receiver.Attempts);
    }

    [Fact]
    public async Task Alertmanager_routes_exactly_one_firing_and_one_resolved_notification_for_one_incident()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var alertmanager = await Alertmanager.StartAsync(receiver.Url);
        var options = new IncidentAlertOptions { Alertmanagers = alertmanager.Url, RetryDelaySeconds = 0.05 };
        var notifier = Notifier(options);
        var opened = DateTimeOffset.UtcNow.AddSeconds(-30);
        var id = await store.OpenAsync(IncidentKind.Loss, Target, "home", opened, new { loss_pct = 15 }, CancellationToken.None);

        Assert.Equal(1, await notifier.DeliverAsync(CancellationToken.None));
        await receiver.WaitForAsync(1, TimeSpan.FromSeconds(30));
        Assert.True(await store.ResolveAsync(IncidentKind.Loss, Target, "home", DateTimeOffset.UtcNow, new { }, CancellationToken.None));
        Assert.Equal(1, await notifier.DeliverAsync(CancellationToken.None));
        await receiver.WaitForAsync(2, TimeSpan.FromSeconds(30));
        // Alertmanager flushes its group every second: five more flushes must add nothing.
        await Task.Delay(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(0, await notifier.DeliverAsync(CancellationToken.None));

        Assert.Equal(["firing", "resolved"], receiver.Received.Select(r => r["status"]!.GetValue<string>()));
        foreach (var notification in receiver.Received)
        {
            var alert = Assert.Single(notification["alerts"]!.AsArray())!;
            Assert.Equal(id.ToString(), alert["labels"]!["incident_id"]!.GetValue<string>());
            Assert.Equal("loss", alert["labels"]!["kind"]!.GetValue<string>());
        }
    }

    private IncidentNotifier Notifier(IncidentAlertOptions options) => new(new IncidentNotifications(db.DataSource), store,
        services.GetRequiredService<IHttpClientFactory>(), Options.Create(options), TimeProvider.System,
        NullLogger<IncidentNotifier>.Instance, services.GetRequiredService<IMeterFactory>());

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    /// <summary>A local receiver of Alertmanager's webhook format that keeps every payload (or answers a failure).</summary>
    private sealed class WebhookReceiver : IAsyncDisposable
    {
        private readonly WebApplication app;
        private readonly List<JsonNode> received = [];
        private int attempts;

        private WebhookReceiver(WebApplication app) => this.app = app;

        public string Url { get; private set; } = "";
        public int Attempts => Volatile.Read(ref attempts);
        public IReadOnlyList<JsonNode> Received
        {
            get
            {
                lock (received)
                {
                    return [.. received];
                }
            }
        }

        public static async Task<WebhookReceiver> StartAsync(HttpStatusCode answer = HttpStatusCode.OK)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var receiver = new WebhookReceiver(app);
            app.MapPost("/hook", async (HttpRequest request) =>
            {
                Interlocked.Increment(ref receiver.attempts);
                if (answer != HttpStatusCode.OK)
                {
                    return Results.StatusCode((int)answer);
                }
                var body = await JsonNode.ParseAsync(request.Body);
                lock (receiver.received)
                {
                    receiver.received.Add(body!);
                }
                return Results.Ok();
            });
            await app.StartAsync();
            receiver.Url = app.Urls.First() + "/hook";
            return receiver;
        }

        public async Task WaitForAsync(int count, TimeSpan timeout)
        {
            var deadline = Stopwatch.StartNew();
            while (Received.Count < count)
            {
                Assert.True(deadline.Elapsed < timeout, $"the receiver got {Received.Count} notifications, not {count}, in {timeout}");
                await Task.Delay(100);
            }
        }

        public async ValueTask DisposeAsync() => await app.DisposeAsync();
    }

    /// <summary>A real Alertmanager on loopback: gossip off, one route to the webhook with resolved notifications, one-second groups.</summary>
    private sealed class Alertmanager : IAsyncDisposable
    {
        private const string Binary = "/usr/bin/prometheus-alertmanager";
        private readonly Process process;
        private readonly string directory;

        private Alertmanager(Process process, string directory, string url)
        {
            this.process = process;
            this.directory = directory;
            Url = url;
        }

        public string Url { get; }

        public static async Task<Alertmanager> StartAsync(string webhook)
        {
            if (!File.Exists(Binary))
            {
                Assert.Skip($"{Binary} is not installed (apt-get install -y prometheus-alertmanager)");
            }
            var directory = Directory.CreateTempSubdirectory("cw-alertmanager-").FullName;
            await File.WriteAllTextAsync(Path.Combine(directory, "alertmanager.yml"), $"""
                route:
                  receiver: cyberwatch
                  group_by: [incident_id]
                  group_wait: 1s
                  group_interval: 1s
                  repeat_interval: 24h
                receivers:
                  - name: cyberwatch
                    webhook_configs:
                      - url: {webhook}
                        send_resolved: true
                """);
            var port = FreePort();
            var start = new ProcessStartInfo(Binary)
            {
                ArgumentList =
                {
                    $"--config.file={Path.Combine(directory, "alertmanager.yml")}", $"--storage.path={Path.Combine(directory, "data")}",
                    $"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                },
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            var process = Process.Start(start)!;
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var alertmanager = new Alertmanager(process, directory, $"http://127.0.0.1:{port}");
            using var http = new HttpClient();
            var deadline = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    if ((await http.GetAsync($"{alertmanager.Url}/-/ready")).IsSuccessStatusCode)
                    {
                        return alertmanager;
                    }
                }
                catch (HttpRequestException) when (deadline.Elapsed < TimeSpan.FromSeconds(20) && !process.HasExited)
                {
                }
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20) && !process.HasExited, "Alertmanager did not become ready");
                await Task.Delay(100);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
            process.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }
}
