using CyberWatch.Configuration;
using CyberWatch.Storage;
using Npgsql;

namespace CyberWatch.Tests.Storage;

public sealed class PostgresConnectionStringTests
{
    [Fact]
    public void Uri_dsn_becomes_an_npgsql_connection_string()
    {
        var normalized = new NpgsqlConnectionStringBuilder(
            PostgresConnectionString.Normalize("postgresql://watch:s%40cret@db.example:6543/cyber?sslmode=require"));

        Assert.Equal("db.example", normalized.Host);
        Assert.Equal(6543, normalized.Port);
        Assert.Equal("cyber", normalized.Database);
        Assert.Equal("watch", normalized.Username);
        Assert.Equal("s@cret", normalized.Password);
        Assert.Equal(SslMode.Require, normalized.SslMode);
    }

    [Fact]
    public void Uri_with_host_query_reaches_a_unix_socket()
    {
        var normalized = new NpgsqlConnectionStringBuilder(
            PostgresConnectionString.Normalize("postgres://cyberwatch@localhost:55432/cyberwatch?host=/srv/pg/run"));

        Assert.Equal("/srv/pg/run", normalized.Host);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Missing_dsn_names_the_variable_to_set(string? dsn)
    {
        var error = Assert.Throws<ConfigurationException>(() => PostgresConnectionString.Normalize(dsn));
        Assert.Contains("CYBERWATCH_PG_DSN", error.Message);
    }

    [Theory]
    [InlineData("this is not a dsn")]
    [InlineData("Host=x;Bogus Key=1")]
    [InlineData("Database=cyberwatch")]
    public void Unparseable_dsn_is_a_configuration_error(string dsn)
    {
        var error = Assert.Throws<ConfigurationException>(() => PostgresConnectionString.Normalize(dsn));
        Assert.StartsWith("the PostgreSQL DSN", error.Message);
    }

    [Fact]
    public void Redacted_dsn_hides_the_password()
    {
        var redacted = PostgresConnectionString.Redact("Host=h;Username=u;Password=topsecret");
        Assert.DoesNotContain("topsecret", redacted);
    }
}
