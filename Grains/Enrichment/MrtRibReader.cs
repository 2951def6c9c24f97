using System.Runtime.CompilerServices;
using System.Buffers.Binary;

namespace CyberWatch.Enrichment;

/// <summary>
/// Reads MRT routing table dumps (RFC 6396) straight into the prefix table: TABLE_DUMP (type 12,
/// IPv4/IPv6 subtypes, 2-byte ASNs with AS4_PATH merged per RFC 6793) and TABLE_DUMP_V2 (type 13:
/// PEER_INDEX_TABLE, RIB_IPV4_UNICAST, RIB_IPV6_UNICAST and their RFC 8050 ADD-PATH forms, 4-byte ASNs).
/// Multicast and generic RIBs and other record types are skipped and counted.
/// </summary>
/// <remarks>
/// The origin of a route is the last AS of its AS_PATH; a path ending in an AS_SET gives the set
/// (one member: that ASN). Confederation segments are not origins. Every RIB entry of a prefix (one
/// per peer) adds its origin, so a prefix seen with several origins keeps them all, the most common first.
/// A record cut by the end of the data ends the read with <see cref="PrefixLoadReport.Truncated"/>;
/// everything before it is kept.
/// </remarks>
public sealed class MrtRibReader : IPrefixSourceReader
{
    private const int HeaderLength = 12;
    private const uint MaxRecordLength = 1 << 26;
    private const byte AttributeAsPath = 2;
    private const byte AttributeAs4Path = 17;
    private const byte SegmentAsSet = 1;
    private const byte SegmentAsSequence = 2;
    private const byte SegmentConfedSequence = 3;
    private const byte SegmentConfedSet = 4;

    public PrefixSourceFormat Format => PrefixSourceFormat.Mrt;

    public Task<PrefixLoadReport> ReadAsync(Stream input, PrefixTableBuilder into, string sourceName, CancellationToken cancellationToken) =>
        Task.Run(() => Read(input, into, sourceName, cancellationToken), cancellationToken);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public PrefixLoadReport Read(Stream input, PrefixTableBuilder into, string sourceName, CancellationToken cancellationToken)
    {
        var report = new PrefixLoadReport(sourceName, PrefixSourceFormat.Mrt);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        into.BeginSource(DuplicatePolicy.Accumulate);
        var state = new ReadState(into, report);
        Span<byte> header = stackalloc byte[HeaderLength];
        var body = new byte[1 << 16];
        long offset = 0;
        while (true)
        {
            if ((report.RecordsRead & 0x3FFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
            var got = input.ReadAtLeast(header, HeaderLength, throwOnEndOfStream: false);
            if (got == 0)
            {
                break;
            }
            if (got < HeaderLength)
            {
                Truncate(report, input, $"record {report.RecordsRead + 1} at byte {offset}: header cut after {got} of {HeaderLength} bytes");
                break;
            }
            var type = BinaryPrimitives.ReadUInt16BigEndian(header[4..]);
            var subtype = BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
            var length = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
            if (length > MaxRecordLength)
            {
                // A length this large means the stream is not MRT or is corrupt: no later record boundary can be trusted.
                report.Error = $"record {report.RecordsRead + 1} at byte {offset}: implausible length {length} (type {type}/{subtype}); stopped reading";
                break;
            }
            if (body.Length < length)
            {
                body = new byte[Math.Max(length, body.Length * 2)];
            }
            got = length == 0 ? 0 : input.ReadAtLeast(body.AsSpan(0, (int)length), (int)length, throwOnEndOfStream: false);
            if (got < length)
            {
                Truncate(report, input, $"record {report.RecordsRead + 1} at byte {offset} (type {type}/{subtype}): body cut after {got} of {length} bytes");
                break;
            }
            report.RecordsRead++;
            try
            {
                state.Record(type, subtype, body.AsSpan(0, (int)length));
            }
            catch (MrtFormatException e)
            {
                report.Skip($"record {report.RecordsRead} at byte {offset} (type {type}/{subtype}): {e.Message}");
            }
            offset += HeaderLength + length;
        }
        if (!report.Truncated && input is TruncationAwareStream { Truncation: { } truncation })
        {
            // The compressed stream broke exactly at a record boundary: nothing is cut, but data is missing.
            Truncate(report, input, $"after record {report.RecordsRead} at byte {offset}: {truncation}");
        }
        report.Elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        return report;
    }

    private static void Truncate(PrefixLoadReport report, Stream input, string where)
    {
        report.Truncated = true;
        report.TruncatedAt = input is TruncationAwareStream { Truncation: { } why } && !where.Contains(why, StringComparison.Ordinal)
            ? $"{where}; {why}"
            : where;
    }

    /// <summary>Per-read state: the peer table and the notes already made about skipped kinds.</summary>
    private sealed class ReadState(PrefixTableBuilder into, PrefixLoadReport report)
    {
        private readonly HashSet<(ushort, ushort)> _notedKinds = [];
        private readonly uint[] _members = new uint[256];
        private int _peerCount = -1;
        private bool _notedMissingPeers;
        private bool _notedAs4Path;

        public void Record(ushort type, ushort subtype, ReadOnlySpan<byte> body)
        {
            switch (type, subtype)
            {
                case (12, 1):
                    TableDump(body, isV6: false);
                    break;
                case (12, 2):
                    TableDump(body, isV6: true);
                    break;
                case (13, 1):
                    PeerIndexTable(body);
                    break;
                case (13, 2):
                    RibUnicast(body, isV6: false, addPath: false);
                    break;
                case (13, 4):
                    RibUnicast(body, isV6: true, addPath: false);
                    break;
                case (13, 8):
                    RibUnicast(body, isV6: false, addPath: true);
                    break;
                case (13, 10):
                    RibUnicast(body, isV6: true, addPath: true);
                    break;
                default:
                    SkipKind(type, subtype);
                    break;
            }
        }

        private void SkipKind(ushort type, ushort subtype)
        {
            var what = (type, subtype) switch
            {
                (13, 3) or (13, 9) => "RIB_IPV4_MULTICAST",
                (13, 5) or (13, 11) => "RIB_IPV6_MULTICAST",
                (13, 6) or (13, 12) => "RIB_GENERIC",
                (16, _) or (17, _) => "BGP4MP (updates, not a RIB)",
                _ => "unknown to this reader",
            };
            if (_notedKinds.Add((type, subtype)))
            {
                report.Note($"records of type {type}/{subtype} ({what}) skipped; further ones only counted");
            }
            report.Skipped++;
        }

        private void PeerIndexTable(ReadOnlySpan<byte> body)
        {
            var cursor = new Cursor(body);
            cursor.Skip(4); // collector BGP ID
            cursor.Skip(cursor.UInt16()); // view name
            var count = cursor.UInt16();
            for (var i = 0; i < count; i++)
            {
                var peerType = cursor.UInt8();
                cursor.Skip(4); // peer BGP ID
                cursor.Skip((peerType & 1) != 0 ? 16 : 4);
                cursor.Skip((peerType & 2) != 0 ? 4 : 2);
            }
            _peerCount = count;
        }

        private void TableDump(ReadOnlySpan<byte> body, bool isV6)
        {
            var cursor = new Cursor(body);
            cursor.Skip(4); // view number, sequence number
            var network = ReadAddress(ref cursor, isV6 ? 16 : 4);
            var length = cursor.UInt8();
            cursor.Skip(1 + 4); // status, originated time
            cursor.Skip(isV6 ? 16 : 4); // peer IP
            cursor.Skip(2); // peer AS
            var attributes = cursor.Bytes(cursor.UInt16());
            if (length > (isV6 ? 128 : 32))
            {
                throw new MrtFormatException($"prefix length {length}");
            }
            AddRoute(new IpPrefix(network, length, isV6), attributes, asnSize: 2);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void RibUnicast(ReadOnlySpan<byte> body, bool isV6, bool addPath)
        {
            if (_peerCount < 0 && !_notedMissingPeers)
            {
                _notedMissingPeers = true;
                report.Note("RIB records before any PEER_INDEX_TABLE (a dump that does not start at its beginning); their origins are still read");
            }
            var cursor = new Cursor(body);
            cursor.Skip(4); // sequence number
            var length = cursor.UInt8();
            if (length > (isV6 ? 128 : 32))
            {
                throw new MrtFormatException($"prefix length {length}");
            }
            var prefixBytes = cursor.Bytes((length + 7) / 8);
            Span<byte> full = stackalloc byte[16];
            full.Clear();
            prefixBytes.CopyTo(full);
            var network = isV6 ? BinaryPrimitives.ReadUInt128BigEndian(full) : BinaryPrimitives.ReadUInt32BigEndian(full);
            var prefix = new IpPrefix(network, length, isV6);
            var entries = cursor.UInt16();
            for (var i = 0; i < entries; i++)
            {
                var peer = cursor.UInt16();
                cursor.Skip(addPath ? 8 : 4); // originated time [, path identifier]
                var attributes = cursor.Bytes(cursor.UInt16());
                if (_peerCount >= 0 && peer >= _peerCount)
                {
                    report.Skip($"{prefix}: RIB entry names peer {peer}, the peer table has {_peerCount}");
                    continue;
                }
                AddRoute(prefix, attributes, asnSize: 4);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void AddRoute(IpPrefix prefix, ReadOnlySpan<byte> attributes, int asnSize)
        {
            ReadOnlySpan<byte> asPath = default, as4Path = default;
            bool hasAsPath = false, hasAs4Path = false;
            var cursor = new Cursor(attributes);
            while (!cursor.AtEnd)
            {
                var flags = cursor.UInt8();
                var code = cursor.UInt8();
                int length = (flags & 0x10) != 0 ? cursor.UInt16() : cursor.UInt8();
                var value = cursor.Bytes(length);
                if (code == AttributeAsPath)
                {
                    asPath = value;
                    hasAsPath = true;
                }
                else if (code == AttributeAs4Path)
                {
                    as4Path = value;
                    hasAs4Path = true;
                }
            }
            if (!hasAsPath)
            {
                report.Skip($"{prefix}: RIB entry without AS_PATH");
                return;
            }
            if (into.AsPaths is { } paths)
            {
                KeepPath(paths, asPath, hasAs4Path && asnSize == 2 ? as4Path : default, asnSize);
            }
            var count = Origin(asPath, asnSize, out var pathLength);
            // RFC 6793: a 2-byte speaker's AS4_PATH carries the true tail of the path (and so the origin)
            // unless it claims more ASes than AS_PATH has; 4-byte paths never need it.
            if (hasAs4Path && asnSize == 2)
            {
                if (!_notedAs4Path)
                {
                    _notedAs4Path = true;
                    report.Note($"{prefix}: AS4_PATH present; origins taken from it where it is consistent with AS_PATH");
                }
                var members = _members.AsSpan(0, Math.Max(count, 0)).ToArray();
                int count4, path4Length;
                try
                {
                    count4 = Origin(as4Path, 4, out path4Length);
                }
                catch (MrtFormatException e)
                {
                    // RFC 6793: a malformed AS4_PATH is ignored, the AS_PATH still stands.
                    report.Note($"{prefix}: malformed AS4_PATH ignored ({e.Message})");
                    count4 = 0;
                    path4Length = int.MaxValue;
                }
                if (count4 > 0 && path4Length <= pathLength)
                {
                    count = count4;
                }
                else
                {
                    members.CopyTo(_members, 0);
                }
            }
            if (count <= 0)
            {
                report.Skip($"{prefix}: AS_PATH has no origin AS (empty or only confederation segments)");
                return;
            }
            var sorted = _members.AsSpan(0, count);
            sorted.Sort();
            var distinct = 1;
            for (var i = 1; i < sorted.Length; i++)
            {
                if (sorted[i] != sorted[distinct - 1])
                {
                    sorted[distinct++] = sorted[i];
                }
            }
            Span<long> key = [into.AlternativeKey(sorted[..distinct])];
            into.Add(prefix, key);
            report.PrefixesAdded++;
        }

        /// <summary>
        /// Gives the AS_SEQUENCE of a route to <paramref name="paths"/>: the ASes before the first AS_SET
        /// (a set has no order, so no edge can be read across it), confederation segments left out. A 2-byte
        /// speaker's AS4_PATH replaces the tail of the path it covers (RFC 6793) when it is not longer.
        /// </summary>
        private void KeepPath(BgpAsPathSet paths, ReadOnlySpan<byte> asPath, ReadOnlySpan<byte> as4Path, int asnSize)
        {
            var sequence = new List<uint>(16);
            if (!Sequence(asPath, asnSize, sequence))
            {
                return;
            }
            if (!as4Path.IsEmpty)
            {
                var tail = new List<uint>(16);
                try
                {
                    if (Sequence(as4Path, 4, tail) && tail.Count <= sequence.Count)
                    {
                        sequence.RemoveRange(sequence.Count - tail.Count, tail.Count);
                        sequence.AddRange(tail);
                    }
                }
                catch (MrtFormatException)
                {
                    // A malformed AS4_PATH is ignored (RFC 6793); the origin code has noted it.
                }
            }
            paths.Add(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(sequence));
        }

        /// <summary>The AS_SEQUENCE members up to the first AS_SET; false when the value is malformed.</summary>
        private static bool Sequence(ReadOnlySpan<byte> path, int asnSize, List<uint> into)
        {
            var cursor = new Cursor(path);
            while (!cursor.AtEnd)
            {
                var segmentType = cursor.UInt8();
                var asns = cursor.UInt8();
                var segment = cursor.Bytes(asns * asnSize);
                if (segmentType == SegmentAsSet)
                {
                    return true;
                }
                if (segmentType == SegmentAsSequence)
                {
                    for (var i = 0; i < asns; i++)
                    {
                        into.Add(ReadAsn(segment.Slice(i * asnSize, asnSize), asnSize));
                    }
                }
                else if (segmentType is not (SegmentConfedSequence or SegmentConfedSet))
                {
                    return false;
                }
            }
            return true;
        }

        /// <summary>
        /// Writes the origin of an AS_PATH value into <see cref="_members"/> and returns how many ASNs
        /// it has (0 when there is none); <paramref name="pathLength"/> is its RFC 6793 length.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private int Origin(ReadOnlySpan<byte> path, int asnSize, out int pathLength)
        {
            var cursor = new Cursor(path);
            var count = 0;
            pathLength = 0;
            while (!cursor.AtEnd)
            {
                var segmentType = cursor.UInt8();
                var asns = cursor.UInt8();
                var segment = cursor.Bytes(asns * asnSize);
                switch (segmentType)
                {
                    case SegmentAsSequence when asns > 0:
                        _members[0] = ReadAsn(segment[^asnSize..], asnSize);
                        count = 1;
                        pathLength += asns;
                        break;
                    case SegmentAsSet when asns > 0:
                        for (var i = 0; i < asns; i++)
                        {
                            _members[i] = ReadAsn(segment.Slice(i * asnSize, asnSize), asnSize);
                        }
                        count = asns;
                        pathLength += 1;
                        break;
                    case SegmentAsSequence or SegmentAsSet or SegmentConfedSequence or SegmentConfedSet:
                        break;
                    default:
                        throw new MrtFormatException($"AS_PATH segment type {segmentType}");
                }
            }
            return count;
        }

        private static uint ReadAsn(ReadOnlySpan<byte> bytes, int size) =>
            size == 4 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt16BigEndian(bytes);

        private static UInt128 ReadAddress(ref Cursor cursor, int size)
        {
            var bytes = cursor.Bytes(size);
            return size == 16 ? BinaryPrimitives.ReadUInt128BigEndian(bytes) : BinaryPrimitives.ReadUInt32BigEndian(bytes);
        }
    }

    /// <summary>Bounds-checked reader over one record; running past the end is a malformed record, not a crash.</summary>
    private ref struct Cursor(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public readonly bool AtEnd => _position >= _data.Length;

        public byte UInt8() => Bytes(1)[0];

        public ushort UInt16() => BinaryPrimitives.ReadUInt16BigEndian(Bytes(2));

        public void Skip(int count) => Bytes(count);

        public ReadOnlySpan<byte> Bytes(int count)
        {
            if (count < 0 || count > _data.Length - _position)
            {
                throw new MrtFormatException($"field of {count} bytes at offset {_position} runs past the end of the record ({_data.Length} bytes)");
            }
            var slice = _data.Slice(_position, count);
            _position += count;
            return slice;
        }
    }

    private sealed class MrtFormatException(string message) : Exception(message);
}
