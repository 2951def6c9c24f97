using CyberWatch.Configuration;
using CyberWatch.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace CyberWatch.WebApi.Access;

/// <summary>
/// <c>apikey create --role read|probe|dns|admin|agent [--vantage NAME] [--name NAME]</c> (the new key alone on the last line), <c>apikey list</c>,
/// <c>apikey revoke ID</c>. The database comes from CYBERWATCH_PG_DSN / appsettings.json, as for the API; the schema is
/// migrated first, so a key can be made before any silo has run.
/// </summary>
public static class ApiKeyCommand
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var verb = args.FirstOrDefault();
        string? role = null, name = null, vantage = null;
        var positional = new List<string>();
        for (var i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--role" when i + 1 < args.Length:
                    role = args[++i];
                    break;
                case "--name" when i + 1 < args.Length:
                    name = args[++i];
                    break;
                case "--vantage" when i + 1 < args.Length:
                    vantage = args[++i];
                    break;
                default:
                    positional.Add(args[i]);
                    break;
            }
        }
        if (verb is null or "help" or "-h" or "--help")
        {
            Usage(verb is null ? Console.Error : Console.Out);
            return verb is null ? 2 : 0;
        }
        await using var dataSource = await PostgresPreflight.OpenConfiguredAsync(cancellationToken);
        await new SchemaMigrator(dataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync(cancellationToken);
        var keys = new ApiKeyStore(dataSource, TimeProvider.System);
        switch (verb)
        {
            case "create" when positional.Count == 0:
                if (!ApiRoles.TryParse(role, out var parsed) || parsed == ApiRole.None)
                {
                    await Console.Error.WriteLineAsync("cyberwatch apikey: give --role read, probe, dns, admin or agent");
                    return 2;
                }
                if (parsed == ApiRole.Agent && (vantage is null || !CyberWatch.Vantages.VantageNames.IsValid(vantage)))
                {
                    await Console.Error.WriteLineAsync(vantage is null
                        ? "cyberwatch apikey: an agent key is bound to one vantage point: give --vantage NAME"
                        : $"cyberwatch apikey: '{vantage}' is not a vantage name (letters, digits, '.', '-', '_', at most 63, starting with a letter or digit)");
                    return 2;
                }
                if (parsed != ApiRole.Agent && vantage is not null)
                {
                    await Console.Error.WriteLineAsync("cyberwatch apikey: --vantage is for --role agent only");
                    return 2;
                }
                var (info, key) = await keys.CreateAsync(parsed, name ?? "", cancellationToken, vantage);
                Console.WriteLine(parsed == ApiRole.Agent
                    ? $"created agent key {info.Id} for vantage point {vantage}{(info.Name.Length > 0 ? $" ({info.Name})" : "")}; it is shown only now, give it to the agent (CYBERWATCH_AGENT_KEY):"
                    : $"created {info.Role.ToWire()} key {info.Id}{(info.Name.Length > 0 ? $" ({info.Name})" : "")}; it is shown only now, send it as 'Authorization: Bearer KEY':");
                Console.WriteLine(key);
                return 0;
            case "list" when positional.Count == 0:
                foreach (var k in await keys.ListAsync(cancellationToken))
                {
                    Console.WriteLine($"{k.Id}\t{k.Role.ToWire()}{(k.Vantage is null ? "" : $"@{k.Vantage}")}\t{k.CreatedAt:yyyy-MM-ddTHH:mm:ssZ}\t{(k.RevokedAt is null ? "active" : "revoked")}\t{k.Name}");
                }
                return 0;
            case "revoke" when positional.Count == 1:
                var id = positional[0].StartsWith("cw_", StringComparison.Ordinal) && ApiKeyStore.TryParseId(positional[0], out var fromKey) ? fromKey : positional[0];
                if (!await keys.RevokeAsync(id, cancellationToken))
                {
                    await Console.Error.WriteLineAsync($"cyberwatch apikey: no active key with id '{id}'");
                    return 1;
                }
                Console.WriteLine($"revoked key {id} (running APIs stop accepting it within {ApiKeyStore.CacheLifetime.TotalSeconds:0} s)");
                return 0;
            default:
                Usage(Console.Error);
                return 2;
        }
    }

    private static void Usage(TextWriter writer)
    {
        writer.WriteLine("usage: cyberwatch apikey create --role read|probe|dns|admin [--name NAME]");
        writer.WriteLine("       cyberwatch apikey create --role agent --vantage NAME [--name NAME]");
        writer.WriteLine("       cyberwatch apikey list");
        writer.WriteLine("       cyberwatch apikey revoke ID");
    }
}
