using System.Net;
using System.Net.Sockets;
using CyberWatch.Enrichment;

namespace CyberWatch.Tests.Enrichment;

public sealed class AddressBitsTests
{
    [Theory]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("1::")]
    [InlineData("2001:db8::1")]
    [InlineData("2001:DB8:0:0:0:0:0:1")]
    [InlineData("2001:0db8:0000:0000:0000:0000:0000:0001")]
    [InlineData("1:2:3:4:5:6:7:8")]
    [InlineData("1:2:3:4:5:6:7::")]
    [InlineData("::2:3:4:5:6:7:8")]
    [InlineData("1::8")]
    [InlineData("::ffff:1.2.3.4")]
    [InlineData("::1.2.3.4")]
    [InlineData("1:2:3:4:5:6:1.2.3.4")]
    [InlineData("1::5:6:1.2.3.4")]
    [InlineData("64:ff9b::192.0.2.33")]
    [InlineData("fe80::a:b:C:D")]
    public void Valid_ipv6_text_parses_to_the_same_value_as_the_framework(string text)
    {
        Assert.True(AddressBits.TryParse(text, out var value, out var isV6));
        Assert.True(isV6);
        Assert.Equal(AddressBits.ToUInt128(IPAddress.Parse(text)), value);
    }

    [Theory]
    [InlineData(":")]
    [InlineData(":::")]
    [InlineData(":1::")]
    [InlineData("1:")]
    [InlineData("1::2::3")]
    [InlineData("12345::")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("1:2:3:4:5:6:7")]
    [InlineData("1:2:3:4::5:6:7:8")]
    [InlineData("1:2:3:4:5:6:7:1.2.3.4")]
    [InlineData("1:2:3:4:5:1.2.3.4")]
    [InlineData("::1.2.3")]
    [InlineData("::1.2.3.256")]
    [InlineData("::g")]
    [InlineData("2001:db8::1 ")]
    [InlineData("[::1]")]
    public void Invalid_ipv6_text_is_rejected(string text)
    {
        Assert.False(AddressBits.TryParse(text, out _, out _));
    }

    [Theory]
    [InlineData("1.2.3.4", 0x01020304u)]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("255.255.255.255", 0xFFFFFFFFu)]
    public void Valid_ipv4_text_parses(string text, uint expected)
    {
        Assert.True(AddressBits.TryParse(text, out var value, out var isV6));
        Assert.False(isV6);
        Assert.Equal(expected, (uint)value);
    }

    [Theory]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("256.1.1.1")]
    [InlineData("01.2.3.4")]
    [InlineData("1.2.3.")]
    [InlineData(".1.2.3")]
    [InlineData("1..2.3")]
    [InlineData("1.2.3.4 ")]
    [InlineData("1.2.3.1000")]
    [InlineData("")]
    [InlineData("0x1.2.3.4")]
    public void Ambiguous_or_malformed_ipv4_text_is_rejected(string text)
    {
        Assert.False(AddressBits.TryParse(text, out _, out _));
    }

    [Fact]
    public void Random_addresses_in_every_text_form_parse_like_the_framework()
    {
        var random = new Random(4291);
        var bytes = new byte[16];
        for (var i = 0; i < 20000; i++)
        {
            random.NextBytes(bytes);
            // Runs of zero groups so that '::' appears at every position.
            var zeroFrom = random.Next(8);
            var zeroTo = random.Next(zeroFrom, 9);
            for (var g = zeroFrom; g < zeroTo; g++)
            {
                bytes[2 * g] = 0;
                bytes[2 * g + 1] = 0;
            }
            var address = new IPAddress(bytes);
            var expected = AddressBits.ToUInt128(address);
            var forms = new[]
            {
                address.ToString(),
                string.Join(':', Enumerable.Range(0, 8).Select(g => ((bytes[2 * g] << 8) | bytes[2 * g + 1]).ToString("x4"))),
                address.ToString().ToUpperInvariant(),
            };
            foreach (var form in forms)
            {
                Assert.True(AddressBits.TryParse(form, out var value, out _), form);
                Assert.Equal(expected, value);
            }
            var v4 = new IPAddress(bytes.AsSpan(0, 4));
            Assert.True(AddressBits.TryParse(v4.ToString(), out var v4Value, out var isV6));
            Assert.False(isV6);
            Assert.Equal(AddressBits.ToUInt128(v4), v4Value);
            Assert.Equal(AddressFamily.InterNetwork, v4.AddressFamily);
        }
    }
}
