using Microsoft.Extensions.Options;

namespace CyberWatch.Watch.Incidents.Alerts;

/// <summary>Where incidents are delivered as alerts, and how hard the notifier tries.</summary>
public sealed class IncidentAlertOptions
{
    public const string Section = "CyberWatch:IncidentAlerts";

    /// <summary>URLs that get Alertmanager's webhook format, separated by commas or spaces (CYBERWATCH_ALERT_WEBHOOKS).</summary>
    public string Webhooks { get; set; } = "";

    /// <summary>Alertmanager base URLs, posted to at <c>/api/v2/alerts</c> (CYBERWATCH_ALERTMANAGERS).</summary>
    public string Alertmanagers { get; set; } = "";

    /// <summary>The node's public API URL, for the alerts' links to <c>/incidents/{id}</c> (CYBERWATCH_ALERT_EXTERNAL_URL).</summary>
    public string ExternalUrl { get; set; } = "";

    /// <summary>How often the incidents table is looked at for notifications to send (CYBERWATCH_ALERT_POLL_SECONDS).</summary>
    public double PollSeconds { get; set; } = 5;

    /// <summary>Retries of one notification before it is a dead letter (CYBERWATCH_ALERT_RETRIES).</summary>
    public int Retries { get; set; } = 5;

    /// <summary>First retry's delay; it doubles each time, with jitter (CYBERWATCH_ALERT_RETRY_DELAY_SECONDS).</summary>
    public double RetryDelaySeconds { get; set; } = 2;

    /// <summary>Timeout of one POST (CYBERWATCH_ALERT_TIMEOUT_SECONDS).</summary>
    public double TimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// Incidents opened longer ago than this and already resolved are not announced to a receiver that
    /// never had them (a receiver added today is not sent last year's incidents); open ones always are
    /// (CYBERWATCH_ALERT_LOOKBACK_HOURS).
    /// </summary>
    public double LookbackHours { get; set; } = 24;

    public IReadOnlyList<Uri> WebhookUrls => Urls(Webhooks);
    public IReadOnlyList<Uri> AlertmanagerUrls => Urls(Alertmanagers);
    public bool Enabled => WebhookUrls.Count + AlertmanagerUrls.Count > 0;

    /// <summary>Every receiver as the notifications table names it.</summary>
    public IReadOnlyList<AlertReceiver> Receivers =>
        [.. WebhookUrls.Select(u => new AlertReceiver(AlertFormat.Webhook, u)), .. AlertmanagerUrls.Select(u => new AlertReceiver(AlertFormat.Alertmanager, u))];

    internal static IReadOnlyList<Uri> Urls(string list) =>
        [.. list.Split([',', ' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) ? uri : new Uri("invalid:" + Uri.EscapeDataString(u)))];
}

public enum AlertFormat
{
    /// <summary>Alertmanager's webhook_config payload (version 4), as a receiver of Alertmanager gets it.</summary>
    Webhook,

    /// <summary>Alertmanager's own API: <c>POST /api/v2/alerts</c>.</summary>
    Alertmanager,
}

/// <summary>One place notifications go.</summary>
public sealed record AlertReceiver(AlertFormat Format, Uri Url)
{
    /// <summary>The receiver column of <c>incident_notifications</c>.</summary>
    public string Name => $"{(Format == AlertFormat.Webhook ? "webhook" : "alertmanager")} {Url}";

    /// <summary>Where the POST goes.</summary>
    public Uri PostUrl => Format == AlertFormat.Webhook ? Url : new Uri(Url.AbsoluteUri.TrimEnd('/') + "/api/v2/alerts");
}

public sealed class IncidentAlertOptionsValidation : IValidateOptions<IncidentAlertOptions>
{
    public ValidateOptionsResult Validate(string? name, IncidentAlertOptions options)
    {
        var errors = new List<string>();
        foreach (var (variable, urls) in new[] { ("CYBERWATCH_ALERT_WEBHOOKS", options.WebhookUrls), ("CYBERWATCH_ALERTMANAGERS", options.AlertmanagerUrls) })
        {
            foreach (var url in urls.Where(u => u.Scheme is not ("http" or "https")))
            {
                errors.Add($"{variable}: '{Uri.UnescapeDataString(url.OriginalString.Replace("invalid:", ""))}' is not an http:// or https:// URL");
            }
        }
        if (options.ExternalUrl.Length > 0 && !Uri.TryCreate(options.ExternalUrl, UriKind.Absolute, out _))
        {
            errors.Add($"CYBERWATCH_ALERT_EXTERNAL_URL '{options.ExternalUrl}' is not an absolute URL");
        }
        if (!double.IsFinite(options.PollSeconds) || options.PollSeconds is < 0.1 or > 3600)
        {
            errors.Add($"CYBERWATCH_ALERT_POLL_SECONDS must be 0.1..3600, not {options.PollSeconds}");
        }
        if (options.Retries is < 0 or > 20)
        {
            errors.Add($"CYBERWATCH_ALERT_RETRIES must be 0..20, not {options.Retries}");
        }
        if (!double.IsFinite(options.RetryDelaySeconds) || options.RetryDelaySeconds is < 0.001 or > 600)
        {
            errors.Add($"CYBERWATCH_ALERT_RETRY_DELAY_SECONDS must be 0.001..600, not {options.RetryDelaySeconds}");
        }
        if (!double.IsFinite(options.TimeoutSeconds) || options.TimeoutSeconds is < 0.1 or > 300)
        {
            errors.Add($"CYBERWATCH_ALERT_TIMEOUT_SECONDS must be 0.1..300, not {options.TimeoutSeconds}");
        }
        if (!double.IsFinite(options.LookbackHours) || options.LookbackHours is < 0 or > 24 * 365)
        {
            errors.Add($"CYBERWATCH_ALERT_LOOKBACK_HOURS must be 0..8760, not {options.LookbackHours}");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
