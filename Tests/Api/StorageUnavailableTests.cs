using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CyberWatch.Storage;
using CyberWatch.WebApi;
using Microsoft.Extensions.Configuration;
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

    [Fact]
    public async Task The_apis_data_source_gives_up_on_a_database_that_never_answers_within_seconds()
    {
        // Accepts the connection and never says a word: what a pooled connection meets when packets are dropped.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var accepted = new List<TcpClient>();
        _ = Task.Run(async () =>
        {
            while (true)
            {
                accepted.Add(await silent.AcceptTcpClientAsync());
            }
        });
        await using var api = Storage($"Host=127.0.0.1;Port={port};Username=cyberwatch;Password=x;Database=none", failFast: true);
        await using var silo = Storage($"Host=127.0.0.1;Port={port};Username=cyberwatch;Password=x;Database=none", failFast: false);
        var own = Storage($"Host=127.0.0.1;Port={port};Username=u;Command Timeout=42;Timeout=7", failFast: true);

        Assert.Equal((StorageServiceCollectionExtensions.FailFastTimeoutSeconds, StorageServiceCollectionExtensions.FailFastTimeoutSeconds),
            (Settings(api).CommandTimeout, Settings(api).Timeout));
        Assert.Equal((30, 15), (Settings(silo).CommandTimeout, Settings(silo).Timeout)); // Npgsql's defaults: the silo waits
        Assert.Equal((42, 7), (Settings(own).CommandTimeout, Settings(own).Timeout)); // the DSN wins
        await own.DisposeAsync();

        var clock = Stopwatch.StartNew();
        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var command = api.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync();
        });
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 10);
        Assert.NotNull(StorageUnavailableHandler.Cause(failure));
    }

    private static NpgsqlDataSource Storage(string dsn, bool failFast) =>
        new ServiceCollection()
            .AddCyberWatchStorage(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["CyberWatch:PostgresDsn"] = dsn }).Build(), failFast)
            .BuildServiceProvider().GetRequiredService<NpgsqlDataSource>();

    private static NpgsqlConnectionStringBuilder Settings(NpgsqlDataSource source) => new(source.ConnectionString);

    private static async Task<(bool Handled, HttpContext Context)> HandleAsync(Exception exception)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Response.Body = new MemoryStream();
        var handler = new StorageUnavailableHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<StorageUnavailableHandler>.Instance);
        return (await handler.TryHandleAsync(context, exception, CancellationToken.None), context);
    }
}
