using System.Reflection;
using System.Text.Json;
using CyberWatch.Configuration;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace CyberWatch.WebApi.Endpoints;

public static class SystemApi
{
    public static IEndpointRouteBuilder MapSystemApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("System").AllowAnonymous();
        group.MapHealthChecks("/health", new HealthCheckOptions
        {
            ResponseWriter = WriteHealthAsync,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).WithSummary("Health of PostgreSQL, Redis, the cluster and scamper, with a status per check.");
        group.MapHealthChecks("/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains("ready"),
            ResponseWriter = WriteHealthAsync,
        }).WithSummary("Ready when PostgreSQL and at least one silo answer.");
        group.MapGet("/service-info", GetServiceInfoAsync)
            .WithSummary("Name, version, silo count and instance id of this node.");
        return app;
    }

    public static async Task<Ok<ServiceInfo>> GetServiceInfoAsync(IClusterClient client, CyberWatchOptions options,
        ServiceInstance instance, TimeProvider clock, CancellationToken cancellationToken)
    {
        var silos = Array.Empty<SiloInfo>();
        string? clusterError = null;
        try
        {
            var hosts = await client.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true)
                .WaitAsync(TimeSpan.FromSeconds(3), cancellationToken);
            silos = hosts.Select(h => new SiloInfo(h.SiloName, h.SiloAddress.Endpoint.ToString(), h.Status.ToString(),
                h.StartTime)).ToArray();
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            clusterError = e.GetBaseException().Message;
        }
        return TypedResults.Ok(new ServiceInfo(
            Name: "cyberWatch",
            Version: typeof(SystemApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            InstanceId: instance.Id,
            ClusterId: options.ClusterId,
            Vantage: options.Vantage,
            SiloCount: silos.Length,
            Silos: silos,
            ClusterError: clusterError,
            StartedAt: instance.StartedAt,
            UptimeSeconds: (long)(clock.GetUtcNow() - instance.StartedAt).TotalSeconds));
    }

    private static Task WriteHealthAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            total_duration_ms = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                duration_ms = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
                data = e.Value.Data.Count > 0 ? e.Value.Data : null,
            }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonOptions));
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };
}

public sealed record ServiceInfo(string Name, string Version, string InstanceId, string ClusterId, string Vantage,
    int SiloCount, IReadOnlyList<SiloInfo> Silos, string? ClusterError, DateTimeOffset StartedAt, long UptimeSeconds);

public sealed record SiloInfo(string Name, string Address, string Status, DateTime StartedAt);
