using System.Net;
using CyberWatch.Enrichment;

namespace CyberWatch.Tests.Enrichment;

public sealed class SpecialAddressesTests
{
    [Theory]
    [InlineData("8.8.8.8", AddressClass.Global)]
    [InlineData("1.1.1.1", AddressClass.Global)]
    [InlineData("0.0.0.0", AddressClass.Unspecified)]
    [InlineData("0.1.2.3", AddressClass.Reserved)]
    [InlineData("10.0.0.1", AddressClass.Private)]
    [InlineData("10.255.255.255", AddressClass.Private)]
    [InlineData("11.0.0.0", AddressClass.Global)]
    [InlineData("100.63.255.255", AddressClass.Global)]
    [InlineData("100.64.0.0", AddressClass.Cgnat)]
    [InlineData("100.127.255.255", AddressClass.Cgnat)]
    [InlineData("100.128.0.0", AddressClass.Global)]
    [InlineData("127.0.0.1", AddressClass.Loopback)]
    [InlineData("127.255.255.254", AddressClass.Loopback)]
    [InlineData("169.254.1.1", AddressClass.LinkLocal)]
    [InlineData("169.253.1.1", AddressClass.Global)]
    [InlineData("172.15.255.255", AddressClass.Global)]
    [InlineData("172.16.0.0", AddressClass.Private)]
    [InlineData("172.31.255.255", AddressClass.Private)]
    [InlineData("172.32.0.0", AddressClass.Global)]
    [InlineData("192.0.0.8", AddressClass.Reserved)]
    [InlineData("192.0.2.1", AddressClass.Documentation)]
    [InlineData("192.0.3.1", AddressClass.Global)]
    [InlineData("192.88.99.1", AddressClass.Reserved)]
    [InlineData("192.168.1.1", AddressClass.Private)]
    [InlineData("192.169.0.1", AddressClass.Global)]
    [InlineData("198.17.255.255", AddressClass.Global)]
    [InlineData("198.18.0.1", AddressClass.Benchmarking)]
    [InlineData("198.19.255.255", AddressClass.Benchmarking)]
    [InlineData("198.20.0.0", AddressClass.Global)]
    [InlineData("198.51.100.7", AddressClass.Documentation)]
    [InlineData("203.0.113.9", AddressClass.Documentation)]
    [InlineData("203.0.114.9", AddressClass.Global)]
    [InlineData("223.255.255.255", AddressClass.Global)]
    [InlineData("224.0.0.1", AddressClass.Multicast)]
    [InlineData("239.255.255.255", AddressClass.Multicast)]
    [InlineData("240.0.0.1", AddressClass.Reserved)]
    [InlineData("255.255.255.254", AddressClass.Reserved)]
    [InlineData("255.255.255.255", AddressClass.Broadcast)]
    public void Ipv4_addresses_are_classified_by_the_iana_registry(string address, AddressClass expected)
    {
        Assert.Equal(expected, SpecialAddresses.Standard.Classify(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("2001:4860:4860::8888", AddressClass.Global)]
    [InlineData("2a00:1450::1", AddressClass.Global)]
    [InlineData("::", AddressClass.Unspecified)]
    [InlineData("::1", AddressClass.Loopback)]
    [InlineData("::2", AddressClass.Reserved)]
    [InlineData("::ffff:10.1.2.3", AddressClass.Private)]
    [InlineData("::ffff:8.8.8.8", AddressClass.Global)]
    [InlineData("::ffff:127.0.0.1", AddressClass.Loopback)]
    [InlineData("64:ff9b::8.8.8.8", AddressClass.Nat64)]
    [InlineData("64:ff9b:1::1", AddressClass.Private)]
    [InlineData("100::1", AddressClass.Reserved)]
    [InlineData("2001::1", AddressClass.Teredo)]
    [InlineData("2001:0:ffff::1", AddressClass.Teredo)]
    [InlineData("2001:2::1", AddressClass.Benchmarking)]
    [InlineData("2001:2:1::1", AddressClass.Reserved)]
    [InlineData("2001:3::1", AddressClass.Global)]
    [InlineData("2001:4:112::1", AddressClass.Global)]
    [InlineData("2001:10::1", AddressClass.Reserved)]
    [InlineData("2001:20::1", AddressClass.Reserved)]
    [InlineData("2001:200::1", AddressClass.Global)]
    [InlineData("2001:db8::1", AddressClass.Documentation)]
    [InlineData("2001:db8:ffff::1", AddressClass.Documentation)]
    [InlineData("2001:db9::1", AddressClass.Global)]
    [InlineData("2002:c000:204::1", AddressClass.SixToFour)]
    [InlineData("3fff::1", AddressClass.Documentation)]
    [InlineData("3fff:fff::1", AddressClass.Documentation)]
    [InlineData("3fff:1000::1", AddressClass.Global)]
    [InlineData("3ffe::1", AddressClass.Global)]
    [InlineData("4000::1", AddressClass.Reserved)]
    [InlineData("5f00::1", AddressClass.Reserved)]
    [InlineData("fc00::1", AddressClass.Private)]
    [InlineData("fd12:3456::1", AddressClass.Private)]
    [InlineData("fe80::1", AddressClass.LinkLocal)]
    [InlineData("febf::1", AddressClass.LinkLocal)]
    [InlineData("fec0::1", AddressClass.Reserved)]
    [InlineData("ff02::1", AddressClass.Multicast)]
    public void Ipv6_addresses_are_classified_by_the_iana_registry(string address, AddressClass expected)
    {
        Assert.Equal(expected, SpecialAddresses.Standard.Classify(IPAddress.Parse(address)));
    }

    [Fact]
    public void Own_addresses_and_prefixes_win_over_every_other_class()
    {
        var classifier = new SpecialAddresses([IpPrefix.Parse("192.0.2.0/28"), IpPrefix.Parse("10.9.9.9/32"), IpPrefix.Parse("2001:db8:1::/48")]);

        Assert.Equal(AddressClass.Own, classifier.Classify(IPAddress.Parse("192.0.2.15")));
        Assert.Equal(AddressClass.Documentation, classifier.Classify(IPAddress.Parse("192.0.2.16")));
        Assert.Equal(AddressClass.Own, classifier.Classify(IPAddress.Parse("10.9.9.9")));
        Assert.Equal(AddressClass.Private, classifier.Classify(IPAddress.Parse("10.9.9.8")));
        Assert.Equal(AddressClass.Own, classifier.Classify(IPAddress.Parse("::ffff:10.9.9.9")));
        Assert.Equal(AddressClass.Own, classifier.Classify(IPAddress.Parse("2001:db8:1:ffff::1")));
        Assert.Equal(AddressClass.Documentation, classifier.Classify(IPAddress.Parse("2001:db8:2::1")));
    }

    [Fact]
    public void Own_addresses_given_as_ip_addresses_match_exactly_and_mapped_ones_as_ipv4()
    {
        var classifier = new SpecialAddresses([IPAddress.Parse("203.0.113.5"), IPAddress.Parse("::ffff:198.51.100.1"), IPAddress.Parse("2a01::5")]);

        Assert.Equal(AddressClass.Own, classifier.Classify(IPAddress.Parse("203.0.113.5")));
        Assert.Equal(AddressClass.Documentation, classifier.Classify(IPAddress.Parse("203.0.113.6")));
        Assert.Equal(AddressClass.Own, classifier.Classify(IPAddress.Parse("198.51.100.1")));
        Assert.Equal(AddressClass.Own, classifier.Classify(IPAddress.Parse("2a01::5")));
        Assert.Equal(AddressClass.Global, classifier.Classify(IPAddress.Parse("2a01::6")));
    }

    [Fact]
    public void Every_ipv4_address_gets_the_class_of_its_block_at_the_block_edges()
    {
        // The first and last address of each special block, and the neighbours just outside.
        (string First, string Last, AddressClass Class)[] blocks =
        [
            ("10.0.0.0", "10.255.255.255", AddressClass.Private),
            ("100.64.0.0", "100.127.255.255", AddressClass.Cgnat),
            ("169.254.0.0", "169.254.255.255", AddressClass.LinkLocal),
            ("172.16.0.0", "172.31.255.255", AddressClass.Private),
            ("192.0.2.0", "192.0.2.255", AddressClass.Documentation),
            ("192.168.0.0", "192.168.255.255", AddressClass.Private),
            ("198.18.0.0", "198.19.255.255", AddressClass.Benchmarking),
            ("198.51.100.0", "198.51.100.255", AddressClass.Documentation),
            ("203.0.113.0", "203.0.113.255", AddressClass.Documentation),
        ];
        foreach (var (first, last, addressClass) in blocks)
        {
            var low = AddressBits.ToUInt32(IPAddress.Parse(first));
            var high = AddressBits.ToUInt32(IPAddress.Parse(last));
            Assert.Equal(addressClass, SpecialAddresses.StandardV4(low));
            Assert.Equal(addressClass, SpecialAddresses.StandardV4(high));
            Assert.Equal(AddressClass.Global, SpecialAddresses.StandardV4(low - 1));
            Assert.Equal(AddressClass.Global, SpecialAddresses.StandardV4(high + 1));
        }
    }
}
