using System.Text.Json;
using CyberWatch.Configuration;
using CyberWatch.Observability;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace CyberWatch.Tests.Operations;

public sealed class LoggingTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("cw-logs-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    // The process's environment as the node would have it; the redactor learns the secret values from it.
    private static readonly Dictionary<string, string> Environment = new()
    {
        ["CYBERWATCH_PG_DSN"] = "Host=db.example;Port=5432;Database=cyberwatch;Username=cyberwatch;Password=Pg-Dsn-Pass-8731",
        ["CYBERWATCH_REDIS_URL"] = "redis://:Redis-Url-Pass-5521@cache.example:6379/0",
        ["NEO4J_PASSWORD"] = "Neo4j-Pass-1187",
        ["PEERINGDB_API_KEY"] = "pdb-key-77c1e0a9f3",
        ["CYBERWATCH_DNS_HASH_KEY"] = "hash-key-5f0c2b9d11",
        ["CYBERWATCH_IPINFO_TOKEN"] = "ipinfo-tok-a81c33",
        ["CYBERWATCH_VANTAGE"] = "home-vantage",
    };

    /// <summary>Each kind of secret, as some code path might log it, and the secret that must not come out.</summary>
    public static TheoryData<string, string> SecretMessages() => new()
    {
        { "Npgsql DSN", "connecting with Host=db.example;Username=cyberwatch;Password=Pg-Dsn-Pass-8731;Database=cyberwatch" },
        { "DSN as URI", "connecting to postgresql://cyberwatch:Uri-Pg-Pass-6650@db.example:5432/cyberwatch" },
        { "Redis URL with password", "Redis at redis://:Redis-Url-Pass-5521@cache.example:6379/0 is unreachable" },
        { "Redis socket URL", "Redis at unix:///run/redis/redis.sock?password=Redis-Sock-Pass-3390 is unreachable" },
        { "StackExchange config", "cache.example:6379,password=Se-Config-Pass-4471,ssl=false" },
        { "bearer token", "GET /api/net Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.Tok3nBody.Sig" },
        { "API key in a query", "GET https://api.example/v1/asn/13335?api_key=Query-Key-9043&fields=org" },
        { "API key on its own", "PeeringDB answered 403 for key pdb-key-77c1e0a9f3" },
        { "token in JSON", """request body {"access_token": "Json-Token-2208", "asn": 13335}""" },
        { "password in JSON", """{"user":"neo4j","password":"Neo4j-Pass-1187"}""" },
        { "secret env value", "authenticating to Neo4j as neo4j/Neo4j-Pass-1187" },
        { "keyed-hash key", "DNS privacy key is hash-key-5f0c2b9d11 (from the environment)" },
        { "token from the environment", "ipinfo answered 429 to ipinfo-tok-a81c33" },
    };

    [Theory]
    [MemberData(nameof(SecretMessages))]
    public void A_secret_written_through_the_logging_path_is_in_neither_the_file_nor_the_console(string kind, string message)
    {
        var secret = SecretIn(message);
        var (file, console) = Log(logger =>
        {
            logger.LogWarning("{Detail}", message);                                 // as a property value
            logger.LogWarning(message.Replace("{", "{{").Replace("}", "}}"));       // as the template itself
            logger.LogError(new InvalidOperationException($"failed: {message}"), "operation failed"); // in an exception
        });

        Assert.Contains(file, l => l.Contains("operation failed"));
        Assert.DoesNotContain(secret, string.Join('\n', file));
        Assert.DoesNotContain(secret, console);
        Assert.Contains(SecretRedactor.Mask, console);
        Assert.NotEmpty(kind);
    }

    [Fact]
    public void A_property_named_like_a_secret_is_masked_whatever_its_value()
    {
        var (file, console) = Log(logger => logger.LogInformation("Signing in with {Password} and {ApiKey}", "short", "k3y"));

        var line = JsonDocument.Parse(file.Single()).RootElement;
        Assert.Equal(SecretRedactor.Mask, line.GetProperty("password").GetString());
        Assert.Equal(SecretRedactor.Mask, line.GetProperty("api_key").GetString());
        Assert.DoesNotContain("k3y", file.Single());
        Assert.Contains("Signing in", console);
    }

    [Fact]
    public void Redaction_keeps_what_is_not_secret()
    {
        var redactor = Redactor();
        Assert.Equal("Host=db.example;Username=cyberwatch;Password=***;Database=cyberwatch",
            redactor.Redact("Host=db.example;Username=cyberwatch;Password=Pg-Dsn-Pass-8731;Database=cyberwatch"));
        Assert.Equal("redis://:***@cache.example:6379/0", redactor.Redact("redis://:Other-Pass-1@cache.example:6379/0"));
        Assert.Equal("postgresql://cw:***@db:5432/cw", redactor.Redact("postgresql://cw:p%40ss@db:5432/cw"));
        Assert.Equal("token bucket refilled, 30 tokens a minute", redactor.Redact("token bucket refilled, 30 tokens a minute"));
        Assert.Equal("Measured 30.14.1.10 (icmp-paris): measurement 5", redactor.Redact("Measured 30.14.1.10 (icmp-paris): measurement 5"));
    }

    [Fact]
    public void The_redactor_from_the_environment_knows_secret_variables()
    {
        const string name = "CW_OPS_TEST_API_TOKEN";
        System.Environment.SetEnvironmentVariable(name, "env-token-value-31337");
        try
        {
            Assert.Equal("key ***", SecretRedactor.FromEnvironment().Redact("key env-token-value-31337"));
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void Lines_are_json_with_the_fixed_fields_and_the_event_fields_in_snake_case()
    {
        var (file, _) = Log(logger =>
        {
            using (logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = "0HN8REQ:00000001" }))
            {
                logger.LogInformation("Measured {Target}: measurement {MeasurementId}, {Outcome} in {Duration} s",
                    "30.14.1.10", 4711L, "success", 1.25);
            }
            logger.LogDebug("not written at info");
        });

        var line = JsonDocument.Parse(Assert.Single(file)).RootElement;
        Assert.True(DateTimeOffset.TryParse(line.GetProperty("timestamp").GetString(), out _));
        Assert.Equal("info", line.GetProperty("level").GetString());
        Assert.Equal("silo", line.GetProperty("component").GetString());
        Assert.Equal("CyberWatch.Tests.Probe", line.GetProperty("logger").GetString());
        Assert.Equal("Measured 30.14.1.10: measurement 4711, success in 1.25 s", line.GetProperty("message").GetString());
        Assert.Equal("0HN8REQ:00000001", line.GetProperty("request_id").GetString());
        Assert.Equal("30.14.1.10", line.GetProperty("target").GetString());
        Assert.Equal(4711, line.GetProperty("measurement_id").GetInt64());
        Assert.Equal("success", line.GetProperty("outcome").GetString());
        Assert.Equal(1.25, line.GetProperty("duration").GetDouble());
    }

    [Fact]
    public void The_file_rotates_by_size_and_keeps_the_configured_number_of_files()
    {
        var path = Path.Combine(directory, "{component}.log");
        var settings = LogSettings.FromConfiguration(Configuration(new()
        {
            ["CYBERWATCH_LOG_FILE"] = path,
            ["CYBERWATCH_LOG_MAX_BYTES"] = "4K",
            ["CYBERWATCH_LOG_RETAINED_FILES"] = "3",
        }), "api");
        Assert.Equal(Path.Combine(directory, "api.log"), settings.File);
        Assert.Equal(4096, settings.MaxBytes);

        using (var logger = LoggingSetup.CreateLogger(settings, Redactor(), TextWriter.Null))
        {
            for (var i = 0; i < 400; i++)
            {
                logger.Information("Probe {Sequence} of {Target} done", i, "30.14.1.10");
            }
        }

        var files = Directory.GetFiles(directory).Order().ToList();
        Assert.Equal(3, files.Count);
        Assert.All(files, f => Assert.Matches(@"api(_\d{3})?\.log$", f));
        // The sink rolls after the write that reaches the limit: a file is at most the limit plus one line.
        Assert.All(files, f => Assert.InRange(new FileInfo(f).Length, 1, 4096 + 512));
        var last = File.ReadAllLines(files[^1]);
        Assert.Equal(399, JsonDocument.Parse(last[^1]).RootElement.GetProperty("sequence").GetInt32());
        var sequences = files.SelectMany(File.ReadAllLines).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("sequence").GetInt32()).ToList();
        Assert.Equal(Enumerable.Range(sequences[0], sequences.Count), sequences);
        Assert.True(sequences[0] > 0, "the oldest files were deleted");
    }

    [Fact]
    public void A_log_file_that_cannot_be_written_is_a_configuration_error_naming_the_variable()
    {
        var blocker = Path.Combine(directory, "not-a-directory");
        File.WriteAllText(blocker, "");
        var error = Assert.Throws<ConfigurationException>(() =>
            LoggingSetup.CreateLogger(new LogSettings("silo", LogEventLevel.Information, Path.Combine(blocker, "silo.log")), Redactor(), TextWriter.Null));
        Assert.Contains("CYBERWATCH_LOG_FILE", error.Message);
    }

    [Theory]
    [InlineData("100M", 104857600L)]
    [InlineData("104857600", 104857600L)]
    [InlineData("2G", 2147483648L)]
    public void Maximum_size_accepts_bytes_and_suffixes(string text, long bytes) => Assert.Equal(bytes, LogSettings.ParseBytes(text));

    [Theory]
    [InlineData("ten")]
    [InlineData("100")]
    [InlineData("-5M")]
    public void A_bad_maximum_size_is_a_configuration_error_naming_the_variable(string text)
    {
        var error = Assert.Throws<ConfigurationException>(() => LogSettings.ParseBytes(text));
        Assert.Contains("CYBERWATCH_LOG_MAX_BYTES", error.Message);
    }

    [Fact]
    public void Defaults_are_100_MB_and_10_files_and_no_file()
    {
        var settings = LogSettings.FromConfiguration(Configuration(new() { ["CYBERWATCH_LOG_LEVEL"] = "debug" }), "silo");
        Assert.Null(settings.File);
        Assert.Equal(100L * 1024 * 1024, settings.MaxBytes);
        Assert.Equal(10, settings.RetainedFiles);
        Assert.Equal(LogEventLevel.Debug, settings.Level);
    }

    private (List<string> File, string Console) Log(Action<Microsoft.Extensions.Logging.ILogger> write)
    {
        var path = Path.Combine(directory, $"{Guid.NewGuid():n}.log");
        var console = new StringWriter();
        using (var serilog = LoggingSetup.CreateLogger(new LogSettings("silo", LogEventLevel.Information, path), Redactor(), console))
        using (var factory = new SerilogLoggerFactory(serilog))
        {
            write(factory.CreateLogger("CyberWatch.Tests.Probe"));
        }
        return (File.ReadAllLines(path).ToList(), console.ToString());
    }

    private static SecretRedactor Redactor() =>
        new(Environment.SelectMany(v => SecretRedactor.SecretsOfVariable(v.Key, v.Value)));

    private static IConfiguration Configuration(Dictionary<string, string> variables)
    {
        var keys = variables.ToDictionary(v => EnvironmentVariables.Map[v.Key], v => (string?)v.Value);
        if (keys.TryGetValue("Logging:LogLevel:Default", out var level))
        {
            keys["Logging:LogLevel:Default"] = level == "debug" ? "Debug" : level;
        }
        return new ConfigurationBuilder().AddInMemoryCollection(keys).Build();
    }

    private static string SecretIn(string message) =>
        System.Text.RegularExpressions.Regex.Match(message, @"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*-\d{4}|pdb-key-[0-9a-f]+|hash-key-[0-9a-f]+|ipinfo-tok-[0-9a-f]+|Tok3nBody").Value is { Length: > 0 } secret
            ? secret
            : throw new InvalidOperationException($"no secret in '{message}'");
}
