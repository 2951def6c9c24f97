using System.Text.Json;
using System.Text.Json.Nodes;
using CyberWatch.WebApi.Access;
using CyberWatch.WebApi.Settings;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace CyberWatch.WebApi.Endpoints;

/// <summary>The runtime settings (admin only). Silos apply a change within a few seconds, without a restart.</summary>
public static class SettingsApi
{
    public static IEndpointRouteBuilder MapSettingsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/settings").WithTags("Settings").RequireAuthorization(ApiPolicies.Admin);
        group.MapGet("", ListAsync).WithSummary("Every setting with its value and when it last changed.");
        group.MapGet("/{key}", GetAsync).WithSummary("One setting, with the schema its fields are checked against.");
        group.MapPut("/{key}", PutAsync)
            .WithSummary("Changes fields of a setting: the body (a JSON object) is merged over the stored value after each field is checked against the key's schema.");
        return app;
    }

    public static async Task<Ok<IReadOnlyList<SettingEntry>>> ListAsync(SettingsStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(await store.AllAsync(cancellationToken));

    public static async Task<Results<Ok<SettingWithSchema>, NotFound<ProblemDetails>>> GetAsync(string key, SettingsStore store,
        CancellationToken cancellationToken)
    {
        var entry = await store.GetAsync(key, cancellationToken);
        if (entry is null)
        {
            return UnknownKey(key);
        }
        SettingsSchema.Keys.TryGetValue(key, out var schema);
        return TypedResults.Ok(new SettingWithSchema(entry.Key, entry.Value, entry.UpdatedAt, schema));
    }

    public static async Task<Results<Ok<SettingEntry>, NotFound<ProblemDetails>, ValidationProblem>> PutAsync(string key,
        [FromBody] JsonElement body, SettingsStore store, CancellationToken cancellationToken)
    {
        if (!SettingsSchema.Keys.ContainsKey(key))
        {
            return UnknownKey(key);
        }
        if (body.ValueKind != JsonValueKind.Object)
        {
            return TargetsApi.Problem("body", "the body must be a JSON object of the fields to change");
        }
        var change = JsonNode.Parse(body.GetRawText())!.AsObject();
        if (change.Count == 0)
        {
            return TargetsApi.Problem("body", "give at least one field to change");
        }
        var stored = (await store.GetAsync(key, cancellationToken))?.Value ?? [];
        var errors = SettingsSchema.Validate(key, change, stored);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, detail: string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value[0]}")));
        }
        return TypedResults.Ok(await store.MergeAsync(key, change, cancellationToken));
    }

    private static NotFound<ProblemDetails> UnknownKey(string key) => TypedResults.NotFound(new ProblemDetails
    {
        Title = "Unknown setting",
        Status = StatusCodes.Status404NotFound,
        Detail = $"no setting '{(key.Length > 64 ? key[..64] : key)}'; settings: {string.Join(", ", SettingsSchema.Keys.Keys)}",
    });
}

/// <summary>Body of GET /settings/{key}.</summary>
public sealed record SettingWithSchema(string Key, JsonObject Value, DateTimeOffset UpdatedAt, IReadOnlyDictionary<string, SettingField>? Schema);
