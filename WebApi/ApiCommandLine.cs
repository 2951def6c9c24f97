using System.Net.Sockets;
using CyberWatch.WebApi.Access;
using CyberWatch.Configuration;
using CyberWatch.Observability;

namespace CyberWatch.WebApi;

/// <summary>Hosts the API; failures the operator can fix are one line on stderr and a non-zero exit code.</summary>
public static class ApiCommandLine
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        try
        {
            if (args.FirstOrDefault() == "apikey")
            {
                return await ApiKeyCommand.RunAsync(args[1..], cancellationToken);
            }
            using var stop = HostStop.Watch();
            var builder = WebApplication.CreateBuilder(args);
            builder.AddCyberWatchApi();
            builder.Services.AddTestFailureHook();
            await using var app = builder.Build();
            app.MapCyberWatchApi();
            app.Services.ValidateClusterTls();
            await app.RefuseUnsafeExposureAsync(cancellationToken);
            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Start was cancelled while waiting for a silo: by SIGTERM (fine), or by a background service that failed.
                if (stop.FatalReason(app.Services, cancellationToken) is not { } early)
                {
                    return 0;
                }
                await Console.Error.WriteLineAsync($"cyberwatch api: stopped: {early}");
                return 1;
            }
            await app.WaitForShutdownAsync(cancellationToken);
            if (stop.FatalReason(app.Services, cancellationToken) is { } reason)
            {
                // A supervisor restarts only a process that failed: say why, and fail.
                await Console.Error.WriteLineAsync($"cyberwatch api: stopped: {reason}");
                return 1;
            }
            return 0;
        }
        catch (Exception e) when (e is ConfigurationException or Storage.MigrationException or Microsoft.Extensions.Options.OptionsValidationException)
        {
            await Console.Error.WriteLineAsync($"cyberwatch api: {e.Message}");
            return 2;
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync($"cyberwatch api: {e.Message}; is the API already running? choose another address with CYBERWATCH_API_URL");
            return 2;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e)
        {
            var root = e.GetBaseException();
            await Console.Error.WriteLineAsync($"cyberwatch api: failed: {root.GetType().Name}: {root.Message}");
            return 1;
        }
    }
}
