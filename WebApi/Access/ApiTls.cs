using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CyberWatch.Configuration;

namespace CyberWatch.WebApi.Access;

/// <summary>
/// HTTPS for the API itself, so keys (the admin key of the dashboard included) never cross a network in clear: a
/// certificate and key in PEM files (CYBERWATCH_API_TLS_CERT/_KEY, or the node's cluster certificate), served on an
/// https:// CYBERWATCH_API_URL with HSTS. Plain HTTP is refused on a non-loopback address unless a trusted proxy
/// (which then speaks TLS to the clients) is configured.
/// </summary>
public static class ApiTls
{
    public static WebApplicationBuilder AddCyberWatchApiTls(this WebApplicationBuilder builder, ApiAccessOptions access, Uri listen)
    {
        var https = listen.Scheme == Uri.UriSchemeHttps;
        var cluster = builder.Configuration.GetSection(ClusterTlsOptions.Section).Get<ClusterTlsOptions>();
        var (certificatePath, keyPath, origin) = !string.IsNullOrWhiteSpace(access.TlsCertificate) || !string.IsNullOrWhiteSpace(access.TlsKey)
            ? (access.TlsCertificate, access.TlsKey, "CYBERWATCH_API_TLS_CERT and CYBERWATCH_API_TLS_KEY")
            : (cluster?.Certificate, cluster?.Key, "CYBERWATCH_TLS_CERT and CYBERWATCH_TLS_KEY (the node's cluster certificate)");
        if (!https)
        {
            if (!string.IsNullOrWhiteSpace(access.TlsCertificate))
            {
                throw new ConfigurationException($"CYBERWATCH_API_TLS_CERT is set but CYBERWATCH_API_URL {listen} is not https://");
            }
            if (!ExposureCheck.IsLoopback(listen) && string.IsNullOrWhiteSpace(access.TrustedProxies))
            {
                throw new ConfigurationException($"CYBERWATCH_API_URL {listen} serves plain HTTP on a non-loopback address, where API keys would travel in clear: " +
                    "use https:// with CYBERWATCH_API_TLS_CERT and CYBERWATCH_API_TLS_KEY, or bind to loopback behind a TLS proxy (CYBERWATCH_API_TRUSTED_PROXIES)");
            }
            return builder;
        }
        if (string.IsNullOrWhiteSpace(certificatePath) || string.IsNullOrWhiteSpace(keyPath))
        {
            throw new ConfigurationException($"CYBERWATCH_API_URL {listen} is https:// but no certificate is configured: set CYBERWATCH_API_TLS_CERT and CYBERWATCH_API_TLS_KEY (PEM files)");
        }
        var certificate = Load(certificatePath, keyPath, origin);
        builder.WebHost.ConfigureKestrel(o => o.ConfigureHttpsDefaults(h => h.ServerCertificate = certificate));
        return builder;
    }

    /// <summary>Loads the pair now, so a missing file, a bad PEM or a key of another certificate stops the API with one line.</summary>
    public static X509Certificate2 Load(string certificatePath, string keyPath, string origin)
    {
        foreach (var path in new[] { certificatePath, keyPath })
        {
            if (!File.Exists(path))
            {
                throw new ConfigurationException($"{origin}: {path} does not exist");
            }
        }
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            // Kestrel on Linux needs the key in a form it can hand to OpenSSL; a PKCS#12 round trip gives it that.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new ConfigurationException($"{origin}: cannot use {certificatePath} with {keyPath}: {e.Message}");
        }
    }

    /// <summary>HSTS on every answer over HTTPS (a proxy's X-Forwarded-Proto counts, once trusted).</summary>
    public static void AddStrictTransportSecurity(HttpContext context)
    {
        if (context.Request.IsHttps)
        {
            context.Response.Headers.StrictTransportSecurity = "max-age=31536000";
        }
    }
}
