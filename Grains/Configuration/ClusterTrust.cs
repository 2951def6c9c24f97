using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CyberWatch.Configuration;

/// <summary>
/// The cluster CA and this node's certificate, loaded from PEM files and checked, and the one rule for
/// peers: a certificate belongs to the cluster when it chains to the cluster CA. Only that CA is trusted,
/// never the system store, where any public CA would vouch for anyone who owns a domain name.
/// </summary>
public sealed class ClusterTrust
{
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    private ClusterTrust(X509Certificate2 authority, X509Certificate2 node)
    {
        Authority = authority;
        Node = node;
    }

    public X509Certificate2 Authority { get; }

    /// <summary>This node's certificate with its private key: presented as server and as client.</summary>
    public X509Certificate2 Node { get; }

    /// <summary>Loads and checks the three files; each problem is a <see cref="ConfigurationException"/> naming the variable and the file.</summary>
    public static ClusterTrust Load(ClusterTlsOptions options, DateTimeOffset now)
    {
        var caPath = Required(options.Ca, "CYBERWATCH_TLS_CA");
        var certificatePath = Required(options.Certificate, "CYBERWATCH_TLS_CERT");
        var keyPath = Required(options.Key, "CYBERWATCH_TLS_KEY");

        var authority = ReadCertificate(caPath, "CYBERWATCH_TLS_CA");
        if (authority.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
        {
            throw new ConfigurationException($"CYBERWATCH_TLS_CA {caPath} is not a CA certificate (no basicConstraints CA:TRUE); use the ca.crt of scripts/cyberwatch cert init");
        }
        EnsureValid(authority, now, "CYBERWATCH_TLS_CA", caPath);

        var certificate = ReadCertificate(certificatePath, "CYBERWATCH_TLS_CERT");
        ReadText(keyPath, "CYBERWATCH_TLS_KEY");
        X509Certificate2 node;
        try
        {
            node = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new ConfigurationException($"CYBERWATCH_TLS_KEY {keyPath} is not an unencrypted PEM private key of the certificate in {certificatePath} ({e.Message.TrimEnd('.')})");
        }
        certificate.Dispose();
        EnsureValid(node, now, "CYBERWATCH_TLS_CERT", certificatePath);
        var usages = node.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault()?.EnhancedKeyUsages
            .Cast<Oid>().Select(o => o.Value).ToHashSet();
        // Every node is a TLS server (inbound silo and gateway connections) and a client (outbound ones).
        if (usages is not null && !(usages.Contains(ServerAuth) && usages.Contains(ClientAuth)))
        {
            throw new ConfigurationException($"CYBERWATCH_TLS_CERT {certificatePath} lacks the serverAuth and clientAuth extended key usages every node needs (scripts/cyberwatch cert node)");
        }

        var trust = new ClusterTrust(authority, node);
        if (trust.Refuses(node, now) is { } reason)
        {
            throw new ConfigurationException($"CYBERWATCH_TLS_CERT {certificatePath} ({node.Subject}) is not signed by the cluster CA {authority.Subject} of CYBERWATCH_TLS_CA {caPath}: {reason}");
        }
        return trust;
    }

    /// <summary>Why a peer's certificate is not of this cluster, or null when it is.</summary>
    public string? Refuses(X509Certificate2 peer, DateTimeOffset now)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        // A private CA publishes no revocation list and no issuer URLs; nothing to fetch.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        if (chain.Build(peer) && chain.ChainElements[^1].Certificate.RawDataMemory.Span.SequenceEqual(Authority.RawDataMemory.Span))
        {
            return null;
        }
        var statuses = chain.ChainStatus.Select(s => s.Status).ToHashSet();
        if (statuses.Contains(X509ChainStatusFlags.PartialChain) || statuses.Contains(X509ChainStatusFlags.UntrustedRoot))
        {
            return $"issued by {peer.Issuer}, not by the cluster CA {Authority.Subject}";
        }
        if (statuses.Contains(X509ChainStatusFlags.NotTimeValid))
        {
            return $"not valid now (valid {peer.NotBefore.ToUniversalTime():u} to {peer.NotAfter.ToUniversalTime():u})";
        }
        return string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct()) is { Length: > 0 } detail
            ? detail : "the certificate chain does not end at the cluster CA";
    }

    private static string Required(string? path, string variable) => string.IsNullOrWhiteSpace(path)
        ? throw new ConfigurationException($"{variable} is not set: set CYBERWATCH_TLS_CA, CYBERWATCH_TLS_CERT and CYBERWATCH_TLS_KEY together (scripts/cyberwatch cert)")
        : Path.GetFullPath(path);

    private static string ReadText(string path, string variable)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "no such file",
                UnauthorizedAccessException => "permission denied",
                _ => e.Message.TrimEnd('.'),
            };
            throw new ConfigurationException($"{variable} {path}: {why}");
        }
    }

    private static X509Certificate2 ReadCertificate(string path, string variable)
    {
        var pem = ReadText(path, variable);
        try
        {
            return X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new ConfigurationException($"{variable} {path} is not a PEM certificate ({e.Message.TrimEnd('.')})");
        }
    }

    private static void EnsureValid(X509Certificate2 certificate, DateTimeOffset now, string variable, string path)
    {
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        if (now > notAfter)
        {
            throw new ConfigurationException($"{variable} {path} expired on {notAfter:u}; issue a new one (scripts/cyberwatch cert)");
        }
        if (now < notBefore)
        {
            throw new ConfigurationException($"{variable} {path} is not valid before {notBefore:u}; is this machine's clock right?");
        }
    }
}
