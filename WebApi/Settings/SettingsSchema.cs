using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CyberWatch.Measurement;

namespace CyberWatch.WebApi.Settings;

/// <summary>One field of a setting: its JSON type and the values it may take.</summary>
public sealed record SettingField(string Type, double? Min = null, double? Max = null, IReadOnlyList<string>? Values = null, bool Nullable = false,
    IReadOnlyDictionary<string, SettingField>? Fields = null)
{
    public static SettingField Integer(long min, long max) => new("integer", min, max);
    public static SettingField Number(double min, double max, bool nullable = false) => new("number", min, max, Nullable: nullable);
    public static SettingField Boolean() => new("boolean");
    public static SettingField OneOf(IReadOnlyList<string> values) => new("string", Values: values);
    public static SettingField SubsetOf(IReadOnlyList<string> values) => new("string list", Values: values);

    /// <summary>An object keyed by vantage point name, each value an object of some of <paramref name="fields"/>.</summary>
    public static SettingField PerVantage(IReadOnlyDictionary<string, SettingField> fields) => new("per vantage", Fields: fields);
}

/// <summary>
/// What each key of the <c>settings</c> table may hold (the fields the silos read, see NodeSettings). A change is
/// merged over the stored value and the result checked field by field before it is written.
/// </summary>
public static class SettingsSchema
{
    public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, SettingField>> Keys =
        new Dictionary<string, IReadOnlyDictionary<string, SettingField>>
        {
            ["worker_settings"] = new Dictionary<string, SettingField>
            {
                ["rate_limit_per_minute"] = SettingField.Integer(1, CyberWatch.Measurement.ProbeScheduler.MaxRatePerMinute),
                ["max_concurrent_traceroutes"] = SettingField.Integer(1, 1_000),
                ["worker_count"] = SettingField.Integer(1, 64),
                ["packets_per_second"] = SettingField.Integer(1, 10_000),
                ["per_prefix_interval_seconds"] = SettingField.Number(0, 3_600),
                ["target_cooldown_seconds"] = SettingField.Number(0, 86_400),
                ["hop_feedback_enabled"] = SettingField.Boolean(),
                ["default_method"] = SettingField.OneOf(ProbeMethods.TraceNames),
                ["probe_attempts"] = SettingField.Integer(1, 10),
                ["max_ttl"] = SettingField.Integer(1, 255),
                // A vantage point's own pace (WorkerSettings.Vantages): a home line slower than a data centre.
                ["vantages"] = SettingField.PerVantage(new Dictionary<string, SettingField>
                {
                    ["rate_limit_per_minute"] = SettingField.Integer(1, CyberWatch.Measurement.ProbeScheduler.MaxRatePerMinute),
                    ["max_concurrent_traceroutes"] = SettingField.Integer(1, 1_000),
                }),
            },
            ["remeasurement_settings"] = new Dictionary<string, SettingField>
            {
                ["enabled"] = SettingField.Boolean(),
                ["interval_hours"] = SettingField.Number(0.01, 8_760),
                ["interval_minutes"] = SettingField.Number(1, 525_600, nullable: true),
                ["batch_size"] = SettingField.Integer(1, 100_000),
                ["targets_per_run"] = SettingField.Integer(1, 1_000_000),
                ["jitter_fraction"] = SettingField.Number(0, 1),
            },
            ["ping_settings"] = new Dictionary<string, SettingField>
            {
                ["enabled"] = SettingField.Boolean(),
                ["interval_seconds"] = SettingField.Integer(10, 86_400),
                ["pings_per_round"] = SettingField.Integer(1, 100),
                ["spacing_seconds"] = SettingField.Integer(1, 60),
                ["method"] = SettingField.OneOf(PingMethods.Names),
                ["sources"] = SettingField.SubsetOf([.. Enum.GetValues<TargetSource>().Select(source => source.ToWire())]),
                ["max_concurrent_rounds"] = SettingField.Integer(1, 20_000),
            },
            ["incident_settings"] = new Dictionary<string, SettingField>
            {
                ["open_after"] = SettingField.Integer(1, 100),
                ["resolve_after"] = SettingField.Integer(1, 100),
                ["loss_threshold_pct"] = SettingField.Number(0.1, 100),
                ["latency_shift_ms"] = SettingField.Number(0, 10_000),
                ["latency_shift_fraction"] = SettingField.Number(0, 10),
                ["baseline_rounds"] = SettingField.Integer(3, 1_000),
                ["path_settle_seconds"] = SettingField.Integer(60, 2_592_000),
                // 0 turns adaptive remeasurement off; below 10 s a trace would still be running when the next is due.
                ["remeasure_seconds"] = SettingField.Integer(0, 86_400),
            },
            ["enrichment_settings"] = new Dictionary<string, SettingField>
            {
                ["poll_interval_seconds"] = SettingField.Integer(1, 3_600),
                ["batch_size"] = SettingField.Integer(1, 100_000),
                ["asn_expansion_enabled"] = SettingField.Boolean(),
                ["asn_expansion_interval_minutes"] = SettingField.Integer(1, 10_080),
                ["asn_min_neighbor_count"] = SettingField.Integer(0, 10_000),
                ["asn_max_ips_per_asn"] = SettingField.Integer(0, 10_000),
            },
        };

    /// <summary>
    /// Checks <paramref name="change"/> (a JSON object) against the schema of <paramref name="key"/>; returns the
    /// errors per field. Fields the schema does not know are refused unless the stored value already has them
    /// (another component's setting), in which case they must keep their JSON type.
    /// </summary>
    public static Dictionary<string, string[]> Validate(string key, JsonObject change, JsonObject stored)
    {
        var errors = new Dictionary<string, string[]>();
        var fields = Keys[key];
        foreach (var (name, value) in change)
        {
            if (fields.TryGetValue(name, out var field))
            {
                if (Check(field, value) is { } error)
                {
                    errors[name] = [error];
                }
            }
            else if (stored[name] is { } existing)
            {
                if (value is null || value.GetValueKind() != existing.GetValueKind())
                {
                    errors[name] = [$"{name} must stay a JSON {existing.GetValueKind().ToString().ToLowerInvariant()}"];
                }
            }
            else
            {
                errors[name] = [$"unknown field of {key}; known: {string.Join(", ", fields.Keys)}"];
            }
        }
        return errors;
    }

    private static string? Check(SettingField field, JsonNode? value)
    {
        if (value is null)
        {
            return field.Nullable ? null : $"must not be null ({Describe(field)})";
        }
        var kind = value.GetValueKind();
        switch (field.Type)
        {
            case "per vantage":
                if (kind != JsonValueKind.Object)
                {
                    return "must be an object keyed by vantage point name";
                }
                foreach (var (vantage, own) in value.AsObject())
                {
                    if (!CyberWatch.Vantages.VantageNames.IsValid(vantage))
                    {
                        return $"'{vantage}' is not a vantage point name";
                    }
                    if (own?.GetValueKind() != JsonValueKind.Object)
                    {
                        return $"{vantage} must be an object of {string.Join(", ", field.Fields!.Keys)}";
                    }
                    foreach (var (name, ownValue) in own.AsObject())
                    {
                        var problem = field.Fields!.TryGetValue(name, out var ownField)
                            ? Check(ownField, ownValue)
                            : $"is not one of {string.Join(", ", field.Fields.Keys)}";
                        if (problem is not null)
                        {
                            return $"{vantage}.{name} {problem}";
                        }
                    }
                }
                return null;
            case "boolean":
                return kind is JsonValueKind.True or JsonValueKind.False ? null : "must be true or false";
            case "string list":
                return kind == JsonValueKind.Array && value.AsArray().All(item => item?.GetValueKind() == JsonValueKind.String
                                                                              && field.Values!.Contains(item.GetValue<string>()))
                    ? null
                    : $"must be a list of {string.Join(", ", field.Values!)}";
            case "string":
                return kind == JsonValueKind.String && field.Values!.Contains(value.GetValue<string>())
                    ? null
                    : $"must be one of {string.Join(", ", field.Values!)}";
            default:
                if (kind != JsonValueKind.Number)
                {
                    return $"must be a number ({Describe(field)})";
                }
                var number = value.GetValue<double>();
                if (field.Type == "integer" && number != Math.Floor(number))
                {
                    return $"must be a whole number ({Describe(field)})";
                }
                return number < field.Min || number > field.Max ? $"must be {Describe(field)}" : null;
        }
    }

    private static string Describe(SettingField field) => field.Type switch
    {
        "integer" or "number" => $"{field.Type} from {field.Min!.Value.ToString(CultureInfo.InvariantCulture)} to {field.Max!.Value.ToString(CultureInfo.InvariantCulture)}",
        _ => field.Type,
    };
}
