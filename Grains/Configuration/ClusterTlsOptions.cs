namespace CyberWatch.Configuration;

/// <summary>
/// Mutual TLS between silos and from clients to gateways (section <c>CyberWatch:Tls</c>): PEM files of the
/// cluster CA and of this node's certificate and key. All three or none.
/// </summary>
public sealed class ClusterTlsOptions
{
    public const string Section = "CyberWatch:Tls";

    /// <summary>The cluster CA certificate; the only authority a peer's certificate may chain to (CYBERWATCH_TLS_CA).</summary>
    public string? Ca { get; set; }

    /// <summary>This node's certificate, signed by the cluster CA (CYBERWATCH_TLS_CERT).</summary>
    public string? Certificate { get; set; }

    /// <summary>This node's private key, unencrypted (CYBERWATCH_TLS_KEY).</summary>
    public string? Key { get; set; }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Ca) || !string.IsNullOrWhiteSpace(Certificate) || !string.IsNullOrWhiteSpace(Key);
}
