using System.Text;
using System.Text.Json.Nodes;

namespace CyberWatch.Watch.Incidents.Alerts;

/// <summary>
/// An incident as an Alertmanager alert: the labels that identify it (one incident, one alert — the
/// <c>incident_id</c> label keeps two incidents of one cause apart), the webhook payload a receiver of
/// Alertmanager gets (version 4) and the body of Alertmanager's <c>POST /api/v2/alerts</c>.
/// </summary>
public static class AlertmanagerFormat
{
    public const string AlertName = "CyberWatchIncident";

    /// <summary>
    /// A firing alert posted to Alertmanager carries an end this far ahead: without one Alertmanager
    /// ends it itself after its <c>resolve_timeout</c> (5 min), and the notifier posts each incident
    /// once, not every few minutes like Prometheus. The resolved post ends it.
    /// </summary>
    public static readonly TimeSpan FiringHorizon = TimeSpan.FromDays(365);

    /// <summary>Go's zero time: what Alertmanager puts in a firing alert's endsAt in a webhook.</summary>
    private const string ZeroTime = "0001-01-01T00:00:00Z";

    public static SortedDictionary<string, string> Labels(Incident incident) => new(StringComparer.Ordinal)
    {
        ["alertname"] = AlertName,
        ["incident_id"] = incident.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["kind"] = incident.Kind,
        ["vantage"] = string.Join(",", incident.Vantages),
        ["subject"] = incident.Subject,
        ["severity"] = "warning",
    };

    public static Dictionary<string, string> Annotations(Incident incident)
    {
        var annotations = new Dictionary<string, string>
        {
            ["summary"] = $"{incident.Kind.Replace('_', ' ')} of {incident.Subject} from {string.Join(", ", incident.Vantages)}",
            ["targets"] = string.Join(",", incident.Targets),
        };
        if (incident.Before is { } before)
        {
            annotations["before"] = before.GetRawText();
        }
        if (incident.After is { } after)
        {
            annotations["after"] = after.GetRawText();
        }
        return annotations;
    }

    /// <summary>Alertmanager's webhook payload for one incident turning <paramref name="status"/>.</summary>
    public static JsonObject Webhook(Incident incident, string status, string receiver, string externalUrl)
    {
        var labels = Labels(incident);
        var annotations = Annotations(incident);
        var alert = new JsonObject
        {
            ["status"] = status,
            ["labels"] = Object(labels),
            ["annotations"] = Object(annotations),
            ["startsAt"] = incident.OpenedAt.UtcDateTime.ToString("O"),
            ["endsAt"] = status == "resolved" && incident.ResolvedAt is { } resolved ? resolved.UtcDateTime.ToString("O") : ZeroTime,
            ["generatorURL"] = GeneratorUrl(incident, externalUrl),
            ["fingerprint"] = Fingerprint(labels),
        };
        return new JsonObject
        {
            ["version"] = "4",
            ["groupKey"] = $"{{}}:{{incident_id=\"{incident.Id}\"}}",
            ["truncatedAlerts"] = 0,
            ["status"] = status,
            ["receiver"] = receiver,
            ["groupLabels"] = new JsonObject { ["incident_id"] = labels["incident_id"] },
            ["commonLabels"] = Object(labels),
            ["commonAnnotations"] = Object(annotations),
            ["externalURL"] = externalUrl,
            ["alerts"] = new JsonArray(alert),
        };
    }

    /// <summary>The body of <c>POST /api/v2/alerts</c>: firing ends at the horizon, resolved at the incident's resolution.</summary>
    public static JsonArray PostableAlerts(Incident incident, string status, string externalUrl)
    {
        var endsAt = status == "resolved" && incident.ResolvedAt is { } resolved ? resolved : incident.OpenedAt + FiringHorizon;
        return new JsonArray(new JsonObject
        {
            ["labels"] = Object(Labels(incident)),
            ["annotations"] = Object(Annotations(incident)),
            ["startsAt"] = incident.OpenedAt.UtcDateTime.ToString("O"),
            ["endsAt"] = endsAt.UtcDateTime.ToString("O"),
            ["generatorURL"] = GeneratorUrl(incident, externalUrl),
        });
    }

    private static string GeneratorUrl(Incident incident, string externalUrl) =>
        externalUrl.Length == 0 ? "" : $"{externalUrl.TrimEnd('/')}/incidents/{incident.Id}";

    /// <summary>Prometheus's label-set signature (FNV-1a 64 of the sorted names and values, 0xff-separated), as Alertmanager shows it.</summary>
    public static string Fingerprint(SortedDictionary<string, string> labels)
    {
        const ulong offset = 14695981039346656037, prime = 1099511628211;
        var hash = offset;
        foreach (var (name, value) in labels)
        {
            foreach (var b in Encoding.UTF8.GetBytes(name).Append((byte)0xff).Concat(Encoding.UTF8.GetBytes(value)).Append((byte)0xff))
            {
                hash ^= b;
                hash *= prime;
            }
        }
        return hash.ToString("x16");
    }

    private static JsonObject Object(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var json = new JsonObject();
        foreach (var (key, value) in pairs)
        {
            json[key] = value;
        }
        return json;
    }
}
