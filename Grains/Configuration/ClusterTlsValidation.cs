using System.Net;
using Microsoft.Extensions.Options;

namespace CyberWatch.Configuration;

/// <summary>
/// Start-up check of <see cref="ClusterTlsOptions"/>: the files are usable, and a node reachable from a
/// network does not run without them, because the silo and gateway ports then accept anyone who connects.
/// </summary>
public sealed class ClusterTlsValidation(CyberWatchOptions node, TimeProvider clock) : IValidateOptions<ClusterTlsOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterTlsOptions options)
    {
        if (!options.IsConfigured)
        {
            if (!IPAddress.TryParse(node.AdvertisedAddress, out var advertised))
            {
                return ValidateOptionsResult.Fail($"CYBERWATCH_ADVERTISED_ADDRESS '{node.AdvertisedAddress}' is not an IP address");
            }
            return IPAddress.IsLoopback(advertised)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"CYBERWATCH_ADVERTISED_ADDRESS {advertised} is not loopback: set CYBERWATCH_TLS_CA, CYBERWATCH_TLS_CERT and CYBERWATCH_TLS_KEY (scripts/cyberwatch cert)");
        }
        try
        {
            ClusterTrust.Load(options, clock.GetUtcNow());
            return ValidateOptionsResult.Success;
        }
        catch (ConfigurationException e)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
