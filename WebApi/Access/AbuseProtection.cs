using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using CyberWatch.WebApi.Endpoints;
using CyberWatch.WebApi.Probing;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;

namespace CyberWatch.WebApi.Access;

/// <summary>
/// Limits a client can hit: on-demand probes per client and minute, probes in flight, request body size; request
/// bodies with unknown members refused; CORS only for configured origins; security headers on every answer.
/// </summary>
public static class AbuseProtection
{
    public static WebApplicationBuilder AddCyberWatchAbuseProtection(this WebApplicationBuilder builder)
    {
        var access = builder.Configuration.GetSection(ApiAccessOptions.Section).Get<ApiAccessOptions>() ?? new ApiAccessOptions();
        if (access.Problems() is { Count: > 0 } problems)
        {
            throw new Configuration.ConfigurationException(string.Join("; ", problems));
        }
        builder.Services.AddMemoryCache();
        builder.Services.AddSingleton<ExportSlots>();
        builder.Services.AddSingleton<OnDemandProbes>();
        builder.Services.AddSingleton<ProbeTargetResolver>();
        builder.Services.AddSingleton<OnDemandProbeLimiter>();
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = access.MaxRequestBodyBytes);
        // Bad bodies throw, so the exception handler can say what was wrong instead of a bare 400.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow);
        builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
        builder.Services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = ReadLimits.Create(access);
            o.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 60;
                context.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.HttpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context.HttpContext,
                    ProblemDetails =
                    {
                        Status = StatusCodes.Status429TooManyRequests,
                        // Only reads pass this limiter; on-demand probes are counted per vantage by OnDemandProbeLimiter.
                        Title = "Read rate limit",
                        Detail = $"at most {access.ReadRequestsPerMinute} reads a minute per client (bursts of {access.ReadBurst}); try again in {retryAfter} s",
                    },
                });
            };
        });
        var origins = access.CorsOrigins.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (origins.Length > 0)
        {
            builder.Services.AddCors(o => o.AddDefaultPolicy(p => p.WithOrigins(origins).WithHeaders("authorization", "content-type").WithMethods("GET", "POST", "PUT", "DELETE")));
        }
        return builder;
    }

    public static WebApplication UseCyberWatchSecurityHeaders(this WebApplication app)
    {
        var limit = app.Services.GetRequiredService<ApiAccessOptions>().MaxRequestBodyBytes;
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            ApiTls.AddStrictTransportSecurity(context);
            var path = context.Request.Path;
            // The dashboard and the API reference bring their own scripts and styles; everything else is ours.
            if (!path.StartsWithSegments("/dashboard") && !path.StartsWithSegments("/docs"))
            {
                headers.XFrameOptions = "DENY";
                // Chart and graph libraries set style attributes on the elements they create; <style> and scripts stay ours only.
                headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; style-src-attr 'unsafe-inline'; script-src 'self'; " +
                    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
            }
            if (context.Request.ContentLength > limit)
            {
                await WriteProblemAsync(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                    $"the request body has {context.Request.ContentLength} bytes; this API takes at most {limit} bytes");
                return;
            }
            await next(context);
        });
        return app;
    }

    public static WebApplication UseCyberWatchLimits(this WebApplication app)
    {
        if (app.Services.GetService<Microsoft.AspNetCore.Cors.Infrastructure.ICorsService>() is not null)
        {
            app.UseCors();
        }
        app.UseRateLimiter();
        return app;
    }

    /// <summary>Gives the bare status answers the framework writes itself (a body over the limit while it is read) a reason.</summary>
    public static void ExplainStatus(ProblemDetailsContext context)
    {
        if (context.ProblemDetails.Status == StatusCodes.Status413PayloadTooLarge && context.ProblemDetails.Detail is null)
        {
            var limit = context.HttpContext.RequestServices.GetRequiredService<ApiAccessOptions>().MaxRequestBodyBytes;
            context.ProblemDetails.Title = "Request body too large";
            context.ProblemDetails.Detail = $"the request body is larger than the {limit} bytes this API takes";
        }
    }

    internal static async Task WriteProblemAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}

/// <summary>Answers a request the API could not read (bad JSON, unknown members, a body over the limit) with what was wrong.</summary>
public sealed class BadRequestExceptionHandler : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || httpContext.Response.HasStarted)
        {
            return false;
        }
        var limit = httpContext.RequestServices.GetRequiredService<ApiAccessOptions>().MaxRequestBodyBytes;
        var detail = bad.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? $"the request body is larger than the {limit} bytes this API takes"
            : bad.InnerException is JsonException json ? $"{bad.Message} {json.Message}" : bad.Message;
        await AbuseProtection.WriteProblemAsync(httpContext, bad.StatusCode,
            bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Bad request", detail);
        return true;
    }
}
