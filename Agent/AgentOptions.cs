using CyberWatch.Vantages;
using Microsoft.Extensions.Options;

namespace CyberWatch.Agent;

/// <summary>Where the agent connects and as what (CYBERWATCH_AGENT_* and CYBERWATCH_VANTAGE).</summary>
public sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>The API's address: https://host:port (wss:// and, on loopback or in a lab, http:// and ws:// too).</summary>
    public string Url { get; set; } = "";

    /// <summary>The agent key (<c>cyberwatch apikey create --role agent --vantage NAME</c>); or <see cref="KeyFile"/>.</summary>
    public string? Key { get; set; }

    /// <summary>A file holding the key (the installed agent's: readable by its user only).</summary>
    public string? KeyFile { get; set; }

    /// <summary>The vantage point this agent is; its key must be bound to it.</summary>
    public string Vantage { get; set; } = "";

    /// <summary>This agent's name among the agents of its vantage point; default the host name.</summary>
    public string Name { get; set; } = DefaultName();

    /// <summary>Where results wait until the cluster acknowledged them (kept over restarts).</summary>
    public string BufferDirectory { get; set; } = "agent-buffer";

    /// <summary>The buffer's size limit; when full, the oldest results are dropped (and counted).</summary>
    public int BufferMegabytes { get; set; } = 64;

    /// <summary>A CA certificate (PEM) the API's certificate must chain to, instead of the system's trust store.</summary>
    public string? CaFile { get; set; }

    /// <summary>The key, from <see cref="Key"/> or <see cref="KeyFile"/>.</summary>
    public string ReadKey() => Key ?? File.ReadAllText(KeyFile!).Trim();

    /// <summary>The WebSocket address of the agent link on the API.</summary>
    public Uri LinkUri()
    {
        var api = new UriBuilder(Url.TrimEnd('/'));
        api.Scheme = api.Scheme switch { "https" or "wss" => "wss", _ => "ws" };
        api.Path = api.Path.TrimEnd('/') + CyberWatch.Agents.AgentProtocol.Path;
        return api.Uri;
    }

    private static string DefaultName()
    {
        var host = new string([.. Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-')]);
        return VantageNames.IsValid(host) ? host : "agent";
    }
}

/// <summary>Every reason the options cannot work, each naming the variable to fix.</summary>
public sealed class AgentOptionsValidation : IValidateOptions<AgentOptions>
{
    public ValidateOptionsResult Validate(string? name, AgentOptions options)
    {
        var problems = new List<string>();
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var url) || url.Scheme is not ("https" or "wss" or "http" or "ws"))
        {
            problems.Add($"CYBERWATCH_AGENT_URL '{options.Url}' is not the API's address like https://cyberwatch.example.net:8000");
        }
        else if (url.Scheme is "http" or "ws" && !url.IsLoopback && Environment.GetEnvironmentVariable("CYBERWATCH_AGENT_ALLOW_PLAIN") != "1")
        {
            // The key travels in the handshake: in clear text only where nobody else can read it.
            problems.Add($"CYBERWATCH_AGENT_URL '{options.Url}' is not encrypted: use https:// (or CYBERWATCH_AGENT_ALLOW_PLAIN=1 on a private lab network)");
        }
        if (string.IsNullOrWhiteSpace(options.Key) && string.IsNullOrWhiteSpace(options.KeyFile))
        {
            problems.Add("no agent key: set CYBERWATCH_AGENT_KEY or CYBERWATCH_AGENT_KEY_FILE (cyberwatch apikey create --role agent --vantage NAME)");
        }
        else if (string.IsNullOrWhiteSpace(options.Key) && !File.Exists(options.KeyFile))
        {
            problems.Add($"CYBERWATCH_AGENT_KEY_FILE '{options.KeyFile}' does not exist");
        }
        if (!VantageNames.IsValid(options.Vantage))
        {
            problems.Add($"CYBERWATCH_VANTAGE '{options.Vantage}' is not a vantage name (letters, digits, '.', '-', '_', at most 63, starting with a letter or digit)");
        }
        if (!VantageNames.IsValid(options.Name))
        {
            problems.Add($"CYBERWATCH_AGENT_NAME '{options.Name}' is not a name (letters, digits, '.', '-', '_')");
        }
        if (options.BufferMegabytes is < 1 or > 100_000)
        {
            problems.Add($"CYBERWATCH_AGENT_BUFFER_MB {options.BufferMegabytes} is not between 1 and 100000");
        }
        if (options.CaFile is { Length: > 0 } ca && !File.Exists(ca))
        {
            problems.Add($"CYBERWATCH_AGENT_CA '{ca}' does not exist");
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(string.Join("; ", problems));
    }
}
