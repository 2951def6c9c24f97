using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using CyberWatch.Measurement;

namespace CyberWatch.WebApi.Probing;

/// <summary>
/// Turns what a user typed into the one address to probe: an IP address as it is, or a host name resolved once,
/// here, and its first address checked by the <see cref="TargetPolicy"/> like a typed address. Only that address
/// travels further, so a name cannot resolve differently between the check and the probe.
/// </summary>
public sealed partial class ProbeTargetResolver(TargetPolicy policy)
{
    public static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(3);

    public async Task<TargetVerdict> ResolveAsync(string? input, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(input))
        {
            return TargetVerdict.Refuse("a target is required (an IP address or a host name)");
        }
        var text = input.Trim();
        if (text.Length > TargetPolicy.MaxLength)
        {
            return TargetVerdict.Refuse($"the target is longer than {TargetPolicy.MaxLength} characters");
        }
        if (IPAddress.TryParse(text, out _) || text.Contains(':'))
        {
            return policy.Check(text);
        }
        if (!HostName().IsMatch(text) || text.All(c => char.IsAsciiDigit(c) || c == '.'))
        {
            return TargetVerdict.Refuse($"'{Shorten(text)}' is neither an IP address nor a host name");
        }
        IPAddress[] addresses;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ResolveTimeout);
            addresses = await System.Net.Dns.GetHostAddressesAsync(text, timeout.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return TargetVerdict.Refuse($"{text} does not resolve ({(e is SocketException s ? s.SocketErrorCode.ToString() : "no answer within 3 s")})");
        }
        var address = addresses.FirstOrDefault(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6);
        if (address is null)
        {
            return TargetVerdict.Refuse($"{text} has no IPv4 or IPv6 address");
        }
        var verdict = policy.Check(address.ToString());
        return verdict.Accepted ? verdict : TargetVerdict.Refuse($"{text} resolves to {address}, which is refused: {verdict.Reason}");
    }

    private static string Shorten(string input) => input.Length <= 64 ? input : input[..64] + "...";

    // RFC 1123 labels: letters, digits, inner hyphens; at least two labels or a single one like "localhost".
    [GeneratedRegex(@"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")]
    private static partial Regex HostName();
}
