namespace CyberWatch.Tests.Enrichment.Online;

/// <summary>
/// Answers in the exact shape the real services give (Team Cymru's documented examples; PeeringDB and RIPEstat
/// answers trimmed to the members that matter plus a few they add around them). Written from the services'
/// documentation and saved answers, not fetched by the tests: the tests never leave this machine.
/// </summary>
public static class Recorded
{
    public const string WhoisBulkVerbose = """
        Bulk mode; whois.cymru.com [2026-11-30 20:31:07 +0000]
        AS      | IP                                       | BGP Prefix          | CC | Registry | Allocated  | AS Name
        23028   | 216.90.108.31                            | 216.90.108.0/24     | US | arin     | 1998-09-25 | TEAMCYMRU - SAUNET, US
        15169   | 8.8.8.8                                  | 8.8.8.0/24          | US | arin     | 2023-12-28 | GOOGLE, US
        NA      | 203.0.114.1                              | NA                  | NA | NA       | NA         | NA
        15169   | 2001:4860:4860::8888                     | 2001:4860::/32      | US | arin     | 2005-03-14 | GOOGLE, US
        64496   | 185.1.2.3                                | 185.1.2.0/24        | NL | ripencc  | 2012-01-01 | EXAMPLE-A, NL
        64497   | 185.1.2.3                                | 185.1.2.0/24        | NL | ripencc  | 2012-01-01 | EXAMPLE-B, NL
        23028   | US | arin     | 2002-01-04 | TEAMCYMRU - SAUNET, US
        Error: no ASN or IP match on line 9.
        """;

    public static readonly Dictionary<string, string[]> WhoisLines = new(StringComparer.OrdinalIgnoreCase)
    {
        ["216.90.108.31"] = ["23028   | 216.90.108.31    | 216.90.108.0/24     | US | arin     | 1998-09-25 | TEAMCYMRU - SAUNET, US"],
        ["8.8.8.8"] = ["15169   | 8.8.8.8          | 8.8.8.0/24          | US | arin     | 2023-12-28 | GOOGLE, US"],
        ["2001:4860:4860::8888"] = ["15169   | 2001:4860:4860::8888 | 2001:4860::/32 | US | arin     | 2005-03-14 | GOOGLE, US"],
        ["185.1.2.3"] =
        [
            "64496   | 185.1.2.3        | 185.1.2.0/24        | NL | ripencc  | 2012-01-01 | EXAMPLE-A, NL",
            "64497   | 185.1.2.3        | 185.1.2.0/24        | NL | ripencc  | 2012-01-01 | EXAMPLE-B, NL",
        ],
        ["AS23028"] = ["23028   | US | arin     | 2002-01-04 | TEAMCYMRU - SAUNET, US"],
        ["AS15169"] = ["15169   | US | arin     | 2000-03-30 | GOOGLE, US"],
    };

    public static readonly Dictionary<string, string[]> DnsTxt = new(StringComparer.OrdinalIgnoreCase)
    {
        ["31.108.90.216.origin.asn.cymru.com"] = ["23028 | 216.90.108.0/24 | US | arin | 1998-09-25"],
        ["3.2.1.185.origin.asn.cymru.com"] = ["64496 64497 | 185.1.2.0/24 | NL | ripencc | 2012-01-01", "64496 | 185.0.0.0/15 | NL | ripencc | 2012-01-01"],
        ["8.8.8.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.8.4.0.6.8.4.1.0.0.2.origin6.asn.cymru.com"] = ["15169 | 2001:4860::/32 | US | arin | 2005-03-14"],
        ["AS23028.asn.cymru.com"] = ["23028 | US | arin | 2002-01-04 | TEAMCYMRU - SAUNET, US"],
    };

    public const string PeeringDbNet23028 = """
        {"data": [{"id": 1853, "org_id": 2302, "name": "Team Cymru", "aka": "", "name_long": "", "website": "https://www.team-cymru.com/",
          "social_media": [], "asn": 23028, "looking_glass": "", "route_server": "", "irr_as_set": "AS-TEAMCYMRU",
          "info_type": "NSP", "info_types": ["NSP"], "info_prefixes4": 50, "info_prefixes6": 10, "info_traffic": "1-5Gbps",
          "info_ratio": "Balanced", "info_scope": "Global", "info_unicast": true, "info_multicast": false, "info_ipv6": true,
          "info_never_via_route_servers": false, "ix_count": 7, "fac_count": 4, "notes": "", "netixlan_updated": null,
          "netfac_updated": null, "poc_updated": null, "policy_url": "", "policy_general": "Selective",
          "policy_locations": "Not Required", "policy_ratio": false, "policy_contracts": "Not Required", "allow_ixp_update": false,
          "status_dashboard": null, "rir_status": "ok", "rir_status_updated": "2024-06-26T04:47:55Z", "logo": null,
          "created": "2010-07-29T00:00:00Z", "updated": "2024-05-10T12:31:22Z", "status": "ok"}], "meta": {}}
        """;

    public const string PeeringDbEmpty = """{"data": [], "meta": {}}""";

    public const string RipeStatAsOverview = """
        {"messages": [], "see_also": [], "version": "1.3", "data_call_name": "as-overview", "data_call_status": "supported - based on 1.3",
         "cached": false, "data": {"type": "as", "resource": "23028", "block": {"resource": "22528-23551", "desc": "Assigned by ARIN",
         "name": "IANA 16-bit Autonomous System (AS) Numbers Registry"}, "holder": "TEAMCYMRU - SAUNET", "announced": true,
         "query_starttime": "2026-11-30T08:00:00", "query_endtime": "2026-11-30T08:00:00"}, "query_id": "20261130203107-1",
         "process_time": 21, "server_id": "app131", "build_version": "live.2026.11.27.212", "status": "ok", "status_code": 200,
         "time": "2026-11-30T20:31:07.412015"}
        """;

    public const string RipeStatNeighbours = """
        {"messages": [], "data_call_name": "asn-neighbours", "data": {"neighbour_counts": {"left": 3, "right": 0, "unique": 3, "uncertain": 0},
         "neighbours": [{"asn": 174, "type": "left", "power": 52, "v4_peers": 310, "v6_peers": 0},
                        {"asn": 3356, "type": "left", "power": 40, "v4_peers": 260, "v6_peers": 0},
                        {"asn": 6939, "type": "left", "power": 12, "v4_peers": 80, "v6_peers": 0}],
         "query_starttime": "2026-11-30T08:00:00", "query_endtime": "2026-11-30T08:00:00", "resource": "23028", "latest_time": "2026-11-30T08:00:00",
         "earliest_time": "2026-11-30T08:00:00"}, "status": "ok", "status_code": 200}
        """;

    public const string RipeStatAnnouncedPrefixes = """
        {"messages": [], "data_call_name": "announced-prefixes", "data": {"prefixes": [
          {"prefix": "216.90.108.0/24", "timelines": [{"starttime": "2026-11-16T08:00:00", "endtime": "2026-11-30T08:00:00"}]},
          {"prefix": "38.229.0.0/16", "timelines": [{"starttime": "2026-11-16T08:00:00", "endtime": "2026-11-30T08:00:00"}]}],
         "query_starttime": "2026-11-16T08:00:00", "query_endtime": "2026-11-30T08:00:00", "resource": "23028",
         "latest_time": "2026-11-30T08:00:00", "earliest_time": "2000-08-18T08:00:00"}, "status": "ok", "status_code": 200}
        """;

    public const string PeeringDbIx = """
        {"data": [{"id": 26, "name": "AMS-IX"}, {"id": 31, "name": "DE-CIX Frankfurt"}, {"id": 999, "name": "No-LAN-IX"}], "meta": {}}
        """;

    public const string PeeringDbIxLan = """
        {"data": [{"id": 26, "ix_id": 26}, {"id": 31, "ix_id": 31}], "meta": {}}
        """;

    public const string PeeringDbIxPfx = """
        {"data": [{"ixlan_id": 26, "prefix": "80.249.208.0/21"}, {"ixlan_id": 26, "prefix": "2001:7f8:1::/64"},
                  {"ixlan_id": 31, "prefix": "80.81.192.0/21"}, {"ixlan_id": 4242, "prefix": "185.0.0.0/24"}], "meta": {}}
        """;

    public const string PeeringDbNetIxLan = """
        {"data": [{"asn": 13335, "ipaddr4": "80.249.211.140", "ipaddr6": "2001:7f8:1::a501:3335:1"},
                  {"asn": 15169, "ipaddr4": "80.81.193.108", "ipaddr6": null},
                  {"asn": 64511, "ipaddr4": null, "ipaddr6": null}], "meta": {}}
        """;

    /// <summary>ip-api batch answers by address (a batch answer is the array of those asked, in order).</summary>
    public static readonly Dictionary<string, string> IpApi = new()
    {
        ["8.8.8.8"] = """{"status":"success","countryCode":"US","as":"AS15169 Google LLC","asname":"GOOGLE","query":"8.8.8.8"}""",
        ["1.1.1.1"] = """{"status":"success","countryCode":"AU","as":"AS13335 Cloudflare, Inc.","asname":"CLOUDFLARENET","query":"1.1.1.1"}""",
        ["203.0.114.1"] = """{"status":"fail","message":"reserved range","query":"203.0.114.1"}""",
        ["9.9.9.9"] = """{"status":"success","countryCode":"US","as":"","asname":"","query":"9.9.9.9"}""",
    };

    public static readonly Dictionary<string, string> IpInfo = new()
    {
        ["9.9.9.9"] = """
            {"ip": "9.9.9.9", "hostname": "dns9.quad9.net", "city": "Berkeley", "region": "California", "country": "US",
             "loc": "37.8716,-122.2727", "org": "AS19281 Quad9", "postal": "94709", "timezone": "America/Los_Angeles", "anycast": true}
            """,
        ["203.0.114.1"] = """{"ip": "203.0.114.1", "city": "", "region": "", "country": "", "loc": "", "org": ""}""",
    };

    /// <summary><c>/api/net?fields=…</c> of a full sync (two networks of the many).</summary>
    public const string PeeringDbNetAll = """
        {"data": [{"id": 1853, "asn": 23028, "name": "Team Cymru", "info_prefixes4": 50, "info_prefixes6": 10, "policy_general": "Selective",
                   "info_traffic": "1-5Gbps", "info_ratio": "Balanced", "irr_as_set": "AS-TEAMCYMRU", "fac_count": 4, "ix_count": 7},
                  {"id": 433, "asn": 15169, "name": "Google LLC", "info_prefixes4": 15000, "info_prefixes6": 2000, "policy_general": "Selective",
                   "info_traffic": "", "info_ratio": "Mostly Outbound", "irr_as_set": "RADB::AS-GOOGLE", "fac_count": 180, "ix_count": 250}], "meta": {}}
        """;
}
