using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace CyberWatch.Enrichment;

/// <summary>A table loaded from files, with what each file contributed.</summary>
/// <param name="Elapsed">Whole load: reading every file and building the table.</param>
/// <param name="BuildElapsed">The part spent freezing what was read into the lookup structures.</param>
public sealed record PrefixTableLoad(PrefixTable Table, IReadOnlyList<PrefixLoadReport> Reports, TimeSpan Elapsed, TimeSpan BuildElapsed)
{
    /// <summary>The distinct AS_PATHs of the MRT sources, when the load was asked to keep them.</summary>
    public BgpAsPathSet? AsPaths { get; init; }

    /// <summary>True when some file could not be read at all (see the reports' <see cref="PrefixLoadReport.Error"/>).</summary>
    public bool HasErrors => Reports.Any(r => r.Error is not null);
}

/// <summary>
/// Loads prefix sources from files into one <see cref="PrefixTable"/>, recognising each file's
/// compression by magic bytes and its format by content (file name only as a fallback).
/// </summary>
/// <remarks>
/// Files merge in the order given: a later file adds its origins to the prefixes an earlier one
/// had and adds its new prefixes; nothing is removed. When origins of a prefix tie in how often
/// they were seen, the earlier file's come first, so the first file decides the primary origin.
/// Country and description come from the first file that has them.
/// </remarks>
public static class PrefixTableLoader
{
    private const int SniffBytes = 8192;

    public static async Task<PrefixTableLoad> LoadAsync(IEnumerable<string> files, CancellationToken cancellationToken = default) =>
        await LoadAsync(files, asPaths: null, cancellationToken);

    /// <summary>Loads as above; MRT sources also put their distinct AS_PATHs into <paramref name="asPaths"/> when given.</summary>
    public static async Task<PrefixTableLoad> LoadAsync(IEnumerable<string> files, BgpAsPathSet? asPaths, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        var builder = new PrefixTableBuilder { AsPaths = asPaths };
        var reports = new List<PrefixLoadReport>();
        foreach (var file in files)
        {
            reports.Add(await LoadIntoAsync(file, builder, cancellationToken));
        }
        var building = Stopwatch.GetTimestamp();
        var table = await Task.Run(builder.Build, cancellationToken);
        return new PrefixTableLoad(table, reports, Stopwatch.GetElapsedTime(started), Stopwatch.GetElapsedTime(building)) { AsPaths = asPaths };
    }

    /// <summary>Reads one file into <paramref name="builder"/>; an unreadable or unrecognised file is a report with an error.</summary>
    public static async Task<PrefixLoadReport> LoadIntoAsync(string file, PrefixTableBuilder builder, CancellationToken cancellationToken = default)
    {
        PrefixSourceFormat? format;
        try
        {
            format = await Task.Run(() => DetectFormat(file), cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new PrefixLoadReport(file, PrefixSourceFormat.IpasnDat) { Error = $"cannot read: {e.Message}" };
        }
        if (format is null)
        {
            return new PrefixLoadReport(file, PrefixSourceFormat.IpasnDat)
            {
                Error = "format not recognised (expected a pyasn .dat, CAIDA pfx2as, iptoasn ip2asn TSV or MRT RIB dump)",
            };
        }
        try
        {
            await using var input = CompressedInput.Open(file);
            return await ReaderFor(format.Value).ReadAsync(input, builder, file, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new PrefixLoadReport(file, format.Value) { Error = $"cannot read: {e.Message}" };
        }
    }

    public static IPrefixSourceReader ReaderFor(PrefixSourceFormat format) => format switch
    {
        PrefixSourceFormat.IpasnDat => new IpasnDatReader(),
        PrefixSourceFormat.Pfx2As => new Pfx2AsReader(),
        PrefixSourceFormat.Ip2Asn => new Ip2AsnReader(),
        PrefixSourceFormat.Mrt => new MrtRibReader(),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    /// <summary>The format of a file from its decompressed first bytes, else from its name; null when neither tells.</summary>
    public static PrefixSourceFormat? DetectFormat(string file)
    {
        var head = new byte[SniffBytes];
        int read;
        using (var input = CompressedInput.Open(file))
        {
            read = input.ReadAtLeast(head, SniffBytes, throwOnEndOfStream: false);
        }
        return DetectFormat(head.AsSpan(0, read)) ?? DetectFormatFromName(Path.GetFileName(file));
    }

    public static PrefixSourceFormat? DetectFormat(ReadOnlySpan<byte> head)
    {
        if (LooksLikeMrt(head))
        {
            return PrefixSourceFormat.Mrt;
        }
        if (head.IndexOf("IP-ASN32-DAT"u8) >= 0)
        {
            return PrefixSourceFormat.IpasnDat;
        }
        foreach (var range in head.Split((byte)'\n'))
        {
            var line = head[range].Trim(" \t\r"u8);
            if (line.IsEmpty || line[0] is (byte)';' or (byte)'#')
            {
                continue;
            }
            if (range.End.Value >= head.Length && head.Length == SniffBytes)
            {
                break; // possibly cut by the sniff window
            }
            var fields = Encoding.ASCII.GetString(line).Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && fields[0].Contains('/') && IpPrefix.TryParse(fields[0], out _))
            {
                return PrefixSourceFormat.IpasnDat;
            }
            if (fields.Length >= 3 && AddressBits.TryParse(fields[0], out _, out _))
            {
                if (AddressBits.TryParse(fields[1], out _, out _))
                {
                    return PrefixSourceFormat.Ip2Asn;
                }
                if (byte.TryParse(fields[1], out var length) && length <= 128)
                {
                    return PrefixSourceFormat.Pfx2As;
                }
            }
            return null;
        }
        return null;
    }

    public static PrefixSourceFormat? DetectFormatFromName(string name)
    {
        name = name.ToLowerInvariant();
        if (name.Contains("pfx2as") || name.Contains("prefix2as"))
        {
            return PrefixSourceFormat.Pfx2As;
        }
        if (name.Contains("ip2asn"))
        {
            return PrefixSourceFormat.Ip2Asn;
        }
        if (name.Contains("ipasn") || name.EndsWith(".dat") || name.EndsWith(".dat.gz"))
        {
            return PrefixSourceFormat.IpasnDat;
        }
        if (name.StartsWith("rib") || name.StartsWith("bview") || name.Contains(".mrt"))
        {
            return PrefixSourceFormat.Mrt;
        }
        return null;
    }

    private static bool LooksLikeMrt(ReadOnlySpan<byte> head)
    {
        if (head.Length < 12)
        {
            return false;
        }
        var type = BinaryPrimitives.ReadUInt16BigEndian(head[4..]);
        var subtype = BinaryPrimitives.ReadUInt16BigEndian(head[6..]);
        var length = BinaryPrimitives.ReadUInt32BigEndian(head[8..]);
        return type is 12 or 13 or 16 or 17 && subtype < 64 && length < (1u << 26);
    }
}
