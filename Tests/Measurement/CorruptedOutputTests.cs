using System.Text;
using CyberWatch.Measurement.Parsing;
using static CyberWatch.Tests.Measurement.Fixture;

namespace CyberWatch.Tests.Measurement;

/// <summary>Random damage to real outputs: every parser must answer with a result, never an exception.</summary>
public sealed class CorruptedOutputTests
{
    private static readonly ProbeContext Lab = new("lab-vp");
    private const string Alphabet = "{}[]\":,0123456789.-eE \\u\u00e9\ud800abcdfx*!ms\n";

    private static IEnumerable<string> Damaged(string original, int seed, int rounds)
    {
        var random = new Random(seed);
        for (int round = 0; round < rounds; round++)
        {
            var chars = original.ToCharArray();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
                chars[random.Next(chars.Length)] = Alphabet[random.Next(Alphabet.Length)];
            yield return new string(chars);
        }
    }

    [Fact]
    public void Damaged_scamper_pings_never_throw()
    {
        foreach (var text in Damaged(ScamperLine("scamper-ping-loss-v4.jsonl", "ping"), 1, 2000))
        {
            var ping = ScamperPingParser.Parse(text, Lab);
            Assert.True(ping.Success || !string.IsNullOrEmpty(ping.FailureReason));
            var bytes = ScamperPingParser.Parse(Encoding.UTF8.GetBytes(text), Lab);
            Assert.Equal(ping.Success, bytes.Success);
        }
    }

    [Fact]
    public void Damaged_mtr_reports_never_throw()
    {
        foreach (var text in Damaged(Text("mtr-v6.json"), 2, 2000))
        {
            var trace = MtrJsonParser.Parse(text, Lab);
            Assert.True(trace.Success || !string.IsNullOrEmpty(trace.FailureReason));
        }
    }

    [Fact]
    public void Damaged_traceroute_text_never_throws()
    {
        foreach (var text in Damaged(Text("traceroute-net-unreach-v4.txt"), 3, 2000))
        {
            var trace = TracerouteTextParser.Parse(text, Lab);
            Assert.True(trace.Success || !string.IsNullOrEmpty(trace.FailureReason));
        }
    }

    [Fact]
    public void Damaged_scamper_streams_never_throw()
    {
        foreach (var text in Damaged(Text("scamper-attach-session.txt"), 4, 1000))
        {
            var output = ScamperOutputParser.Parse(text, Lab);
            Assert.All(output.Traces, t => Assert.True(t.Success || !string.IsNullOrEmpty(t.FailureReason)));
        }
    }
}
