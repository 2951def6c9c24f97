using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Hosting;

namespace CyberWatch.Configuration;

/// <summary>
/// The Orleans TLS settings of this node, or none when TLS is not configured: its own certificate as
/// server and as client, a certificate required from every peer, and only the cluster CA trusted.
/// </summary>
public sealed partial class ClusterTls
{
    private readonly Lazy<TlsOptions?> tls;
    private readonly TimeProvider clock;
    private readonly ILogger<ClusterTls> logger;

    public ClusterTls(IOptions<ClusterTlsOptions> options, TimeProvider clock, ILogger<ClusterTls> logger)
    {
        this.clock = clock;
        this.logger = logger;
        tls = new Lazy<TlsOptions?>(() => Create(options.Value));
    }

    public TlsOptions? Options => tls.Value;

    private TlsOptions? Create(ClusterTlsOptions configured)
    {
        if (!configured.IsConfigured)
        {
            LogPlaintext();
            return null;
        }
        var trust = ClusterTrust.Load(configured, clock.GetUtcNow());
        LogEnabled(trust.Node.Subject, trust.Node.NotAfter.ToUniversalTime(), trust.Authority.Subject);
        return new TlsOptions
        {
            LocalCertificate = trust.Node,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            // The platform's verdict is ignored on purpose: it judges against the system store and the host
            // name, while a cluster member is whoever holds a certificate of the cluster CA, at any address.
            RemoteCertificateValidation = (certificate, _, _) =>
            {
                if (trust.Refuses(certificate, clock.GetUtcNow()) is not { } reason)
                {
                    return true;
                }
                LogRefused(certificate.Subject, reason);
                return false;
            },
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster TLS on: this node is {Subject} (valid until {NotAfter:u}), peers must chain to the cluster CA {Authority}")]
    private partial void LogEnabled(string subject, DateTime notAfter, string authority);

    [LoggerMessage(Level = LogLevel.Information, Message = "Cluster TLS off: silo and gateway connections are plaintext (loopback only)")]
    private partial void LogPlaintext();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused the TLS certificate of a cluster peer {Subject}: {Reason}")]
    private partial void LogRefused(string subject, string reason);
}

/// <summary>Wires <see cref="ClusterTls"/> into a silo (silo-to-silo and gateway) or a client (client-to-gateway).</summary>
public static class ClusterTlsExtensions
{
    public static IServiceCollection AddClusterTls(this IServiceCollection services)
    {
        services.AddOptions<ClusterTlsOptions>().BindConfiguration(ClusterTlsOptions.Section).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClusterTlsOptions>, ClusterTlsValidation>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ClusterTls>();
        return services;
    }

    // The package's UseTls takes the certificate while the builder is still being put together, before
    // ValidateOnStart can refuse a bad file in one line and without a logger to say why a peer was
    // refused; so the same connection middlewares are added here from the validated options.
    public static ISiloBuilder UseClusterTls(this ISiloBuilder silo)
    {
        silo.Services.AddClusterTls();
        silo.Services.AddOptions<SiloConnectionOptions>().Configure<ClusterTls>((connections, cluster) =>
        {
            if (cluster.Options is not { } tls)
            {
                return;
            }
            connections.ConfigureSiloInboundConnection(c => c.UseServerTls(tls));
            connections.ConfigureGatewayInboundConnection(c => c.UseServerTls(tls));
            connections.ConfigureSiloOutboundConnection(c => c.UseClientTls(tls));
        });
        return silo;
    }

    public static IClientBuilder UseClusterTls(this IClientBuilder client)
    {
        client.Services.AddClusterTls();
        client.Services.AddOptions<ClientConnectionOptions>().Configure<ClusterTls>((connections, cluster) =>
        {
            if (cluster.Options is { } tls)
            {
                connections.ConfigureConnection(c => c.UseClientTls(tls));
            }
        });
        return client;
    }

    /// <summary>Runs the start-up validation now, so a bad certificate is reported before anything else is tried.</summary>
    public static void ValidateClusterTls(this IServiceProvider services) =>
        _ = services.GetRequiredService<IOptions<ClusterTlsOptions>>().Value;
}
