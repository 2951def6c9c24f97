using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace CyberWatch.Watch.Incidents.Alerts;

/// <summary>
/// Delivers incidents as alerts: firing when one opens, resolved when it resolves, to each configured
/// webhook (Alertmanager's webhook format) and Alertmanager (<c>/api/v2/alerts</c>). What was sent is kept
/// in <c>incident_notifications</c>, so neither another silo nor a restart sends it again. A POST that
/// fails is retried (Polly: exponential back-off with jitter, a timeout per try); one that still fails is
/// a dead letter — a row with its error and <c>cyberwatch_incident_notifications_total{outcome="dead_letter"}</c>.
/// </summary>
/// <remarks>
/// At most once per receiver, except for a silo that dies between a receiver's answer and the row's
/// update: once its lease runs out another silo sends that notification again. Alertmanager merges the
/// two (same labels); a plain webhook receiver sees the one repeat.
/// </remarks>
public sealed partial class IncidentNotifier : BackgroundService
{
    public const string HttpClientName = "incident-alerts";
    private const int BatchSize = 100;

    private readonly IncidentNotifications notifications;
    private readonly IncidentStore incidents;
    private readonly IHttpClientFactory http;
    private readonly IncidentAlertOptions options;
    private readonly TimeProvider clock;
    private readonly ILogger<IncidentNotifier> logger;
    private readonly ResiliencePipeline pipeline;
    private readonly Dictionary<string, AlertReceiver> receivers;
    private readonly Counter<long> sent;

    public IncidentNotifier(IncidentNotifications notifications, IncidentStore incidents, IHttpClientFactory http, IOptions<IncidentAlertOptions> options,
        TimeProvider clock, ILogger<IncidentNotifier> logger, IMeterFactory meters)
    {
        this.notifications = notifications;
        this.incidents = incidents;
        this.http = http;
        this.options = options.Value;
        this.clock = clock;
        this.logger = logger;
        receivers = this.options.Receivers.ToDictionary(r => r.Name);
        sent = meters.Create("CyberWatch.Watch").CreateCounter<long>("cyberwatch.incident_notifications",
            description: "incident notifications: delivered, or given up after the retries (dead_letter)");
        var builder = new ResiliencePipelineBuilder { TimeProvider = clock };
        if (this.options.Retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                // A refused connection, a 5xx, 408 or 429 may pass on a later try; any other 4xx will not.
                ShouldHandle = new PredicateBuilder()
                    .Handle<HttpRequestException>(e => e.StatusCode is null or >= HttpStatusCode.InternalServerError
                        or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests)
                    .Handle<TimeoutRejectedException>(),
                MaxRetryAttempts = this.options.Retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromSeconds(this.options.RetryDelaySeconds),
                OnRetry = args =>
                {
                    LogRetry(args.AttemptNumber + 1, args.Outcome.Exception?.Message ?? "", args.RetryDelay.TotalSeconds);
                    return default;
                },
            });
        }
        pipeline = builder.AddTimeout(TimeSpan.FromSeconds(this.options.TimeoutSeconds)).Build();
    }

    /// <summary>
    /// How long a claim holds: longer than every try with its timeout and the longest back-offs (jitter
    /// can make a delay up to 1.5 times its base), so a slow delivery is not taken by another silo.
    /// </summary>
    private TimeSpan Lease => TimeSpan.FromSeconds((options.Retries + 1) * options.TimeoutSeconds
        + 1.5 * options.RetryDelaySeconds * (Math.Pow(2, options.Retries) - 1) + 30);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        WatchLoop.RunAsync(DeliverAsync, () => TimeSpan.FromSeconds(options.PollSeconds), clock, LogStoreUnavailable, LogPassFailed, stoppingToken);

    /// <summary>One pass: queues what is new and delivers what is due. Returns the notifications delivered.</summary>
    public async Task<int> DeliverAsync(CancellationToken cancellationToken)
    {
        if (receivers.Count == 0)
        {
            return 0;
        }
        var names = receivers.Keys.ToArray();
        var now = clock.GetUtcNow();
        await notifications.QueueAsync(names, now, now - TimeSpan.FromHours(options.LookbackHours), cancellationToken);
        var delivered = 0;
        while (true)
        {
            var claimed = await notifications.ClaimAsync(names, clock.GetUtcNow(), Lease, BatchSize, cancellationToken);
            if (claimed.Count == 0)
            {
                return delivered;
            }
            // Receivers in parallel, so one that is down does not hold up the others; each in incident order.
            var counts = await Task.WhenAll(claimed.GroupBy(c => c.Receiver).Select(g => DeliverToAsync(receivers[g.Key], [.. g], cancellationToken)));
            delivered += counts.Sum();
        }
    }

    private async Task<int> DeliverToAsync(AlertReceiver receiver, IReadOnlyList<ClaimedNotification> batch, CancellationToken cancellationToken)
    {
        var delivered = 0;
        var format = receiver.Format == AlertFormat.Webhook ? "webhook" : "alertmanager";
        foreach (var notification in batch)
        {
            // Alerts go to the operator's own receivers, which see every target (as the admin role does).
            var incident = await incidents.GetAsync(notification.IncidentId, Storage.TargetScope.IncludingDns, cancellationToken);
            JsonNode? body = incident is null ? null : receiver.Format == AlertFormat.Webhook
                ? AlertmanagerFormat.Webhook(incident, notification.Status, "cyberwatch", options.ExternalUrl)
                : AlertmanagerFormat.PostableAlerts(incident, notification.Status, options.ExternalUrl);
            try
            {
                if (body is null)
                {
                    throw new InvalidOperationException($"incident {notification.IncidentId} is gone");
                }
                await pipeline.ExecuteAsync(async token => await PostAsync(receiver.PostUrl, body, token), cancellationToken);
                await notifications.DeliveredAsync(notification, clock.GetUtcNow(), cancellationToken);
                sent.Add(1, new("outcome", "delivered"), new("format", format));
                LogDelivered(notification.Status, notification.IncidentId, receiver.Name);
                delivered++;
            }
            catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
            {
                await notifications.DeadAsync(notification, clock.GetUtcNow(), e.Message, cancellationToken);
                sent.Add(1, new("outcome", "dead_letter"), new("format", format));
                LogDeadLetter(notification.Status, notification.IncidentId, receiver.Name, e.Message);
            }
        }
        return delivered;
    }

    private async Task PostAsync(Uri url, JsonNode body, CancellationToken cancellationToken)
    {
        using var client = http.CreateClient(HttpClientName);
        using var response = await client.PostAsJsonAsync(url, body, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException($"{url} answered {(int)response.StatusCode} {response.ReasonPhrase}: {text[..Math.Min(text.Length, 200)]}",
                null, response.StatusCode);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert {Status} of incident {Id} delivered to {Receiver}")]
    private partial void LogDelivered(string status, long id, string receiver);

    [LoggerMessage(Level = LogLevel.Error, Message = "Alert {Status} of incident {Id} not delivered to {Receiver}, given up: {Error}")]
    private partial void LogDeadLetter(string status, long id, string receiver, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert not delivered ({Error}); try {Attempt} in {DelaySeconds:F1} s")]
    private partial void LogRetry(int attempt, string error, double delaySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Incident notifications not read ({Error}); trying again at the next poll")]
    private partial void LogStoreUnavailable(string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Incident notifications not handled; trying again at the next poll")]
    private partial void LogPassFailed(Exception error);
}
