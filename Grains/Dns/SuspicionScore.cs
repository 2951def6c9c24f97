namespace CyberWatch.Dns;

/// <summary>
/// How much a name looks machine-made (DGA, tunnelling): the entropy of its longest label, the share of
/// digits, its length, and a burst of NXDOMAIN answers under the same parent. 0 is ordinary, 1 very odd.
/// </summary>
public static class SuspicionScore
{
    public static double Of(string domain, int recentNxDomains)
    {
        var labels = domain.Split('.');
        var candidates = labels.Length > 1 ? labels[..^1] : labels; // the TLD says nothing
        var longest = candidates.MaxBy(l => l.Length) ?? "";
        var entropy = Entropy(longest);
        // Short labels cannot show much entropy; weigh the entropy part by length up to 12 characters.
        var entropyPart = Math.Clamp((entropy - 2.5) / 1.3, 0, 1) * Math.Min(1.0, longest.Length / 12.0);
        var letters = domain.Count(c => c != '.');
        var digitPart = letters == 0 ? 0 : Math.Clamp(domain.Count(char.IsAsciiDigit) / (double)letters / 0.4, 0, 1);
        var lengthPart = Math.Clamp((domain.Length - 30) / 60.0, 0, 1);
        var nxPart = Math.Clamp(recentNxDomains / 10.0, 0, 1);
        var score = 0.55 * entropyPart + 0.25 * digitPart + 0.25 * lengthPart + 0.5 * nxPart;
        return Math.Round(Math.Clamp(score, 0, 1), 3);
    }

    /// <summary>Shannon entropy in bits per character.</summary>
    public static double Entropy(string text)
    {
        if (text.Length == 0)
        {
            return 0;
        }
        Span<int> counts = stackalloc int[128];
        var other = 0;
        foreach (var c in text)
        {
            if (c < 128)
            {
                counts[c]++;
            }
            else
            {
                other++;
            }
        }
        double entropy = 0;
        foreach (var n in counts)
        {
            if (n > 0)
            {
                var p = n / (double)text.Length;
                entropy -= p * Math.Log2(p);
            }
        }
        if (other > 0)
        {
            var p = other / (double)text.Length;
            entropy -= p * Math.Log2(p);
        }
        return entropy;
    }

    /// <summary>The name NXDOMAIN bursts are counted under: its last two labels.</summary>
    public static string Parent(string domain)
    {
        var last = domain.LastIndexOf('.');
        if (last <= 0)
        {
            return domain;
        }
        var second = domain.LastIndexOf('.', last - 1);
        return second < 0 ? domain : domain[(second + 1)..];
    }
}
