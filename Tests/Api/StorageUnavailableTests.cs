using System.Net.Sockets;
using CyberWatch.WebApi;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CyberWatch.Tests.Api;

public sealed class StorageUnavailableTests
{
    [Fact]
    public async Task An_unreachable_database_answers_503_with_retry_after()
    {
        var (handled, context) = await HandleAsync(new NpgsqlException("Failed to connect to 127.0.0.1:5432", new SocketException(111)));

        Assert.True(handled);
        Assert.Equal(503, context.Response.StatusCode);
        Assert.Equal("10", context.Response.Headers.RetryAfter.ToString());
    }

    [Fact]
    public async Task A_storage_failure_inside_another_exception_answers_503()
    {
        var (handled, context) = await HandleAsync(new InvalidOperationException("grain call failed", new TimeoutException("x", new NpgsqlException("timeout"))));

        Assert.True(handled);
        Assert.Equal(503, context.Response.StatusCode);
    }

    [Fact]
    public async Task Other_failures_stay_500s()
    {
        var (handled, _) = await HandleAsync(new InvalidOperationException("a bug"));

        Assert.False(handled);
    }

    private static async Task<(bool Handled, HttpContext Context)> HandleAsync(Exception exception)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Response.Body = new MemoryStream();
        var handler = new StorageUnavailableHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<StorageUnavailableHandler>.Instance);
        return (await handler.TryHandleAsync(context, exception, CancellationToken.None), context);
    }
}
