using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace CyberWatch.Dns;

/// <summary>
/// Which file a saved log position belongs to: its inode and a keyed hash (HMAC-SHA256) of its first line. The first
/// line of a resolver log usually holds a client address; a plain hash of it could be matched against guessed lines,
/// so the hash is keyed with <see cref="CursorKey"/>, a secret that never leaves the collector's state directory.
/// </summary>
public sealed record FileIdentity(ulong Inode, string FirstLineKey)
{
    /// <summary>Inode and keyed first-line hash of an open file; null while it has no complete first line (up to 1 KiB).</summary>
    public static FileIdentity? Of(FileStream file, byte[] key) =>
        FirstLine(file) is { } line ? new FileIdentity(InodeOf(file.SafeFileHandle), Convert.ToHexStringLower(HMACSHA256.HashData(key, line))) : null;

    /// <summary>
    /// The first line of an open file (up to 1 KiB, without its newline), or null while it has none complete; the
    /// file's position is left where it was.
    /// </summary>
    public static byte[]? FirstLine(FileStream file)
    {
        var position = file.Position;
        try
        {
            file.Seek(0, SeekOrigin.Begin);
            var head = new byte[1024];
            var n = file.Read(head, 0, head.Length);
            var newline = Array.IndexOf(head, (byte)'\n', 0, n);
            if (newline < 0 && n < head.Length)
            {
                return null;
            }
            return head[..(newline < 0 ? n : newline)];
        }
        finally
        {
            file.Seek(position, SeekOrigin.Begin);
        }
    }

    public static FileIdentity? Of(string path, byte[] key)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        return Of(file, key);
    }

    /// <summary>
    /// The inode of an open file, from statx(2) (.NET does not expose it). statx's buffer has one layout on every
    /// architecture: stx_ino is the 64-bit field at byte 32 of 256.
    /// </summary>
    public static ulong InodeOf(SafeFileHandle handle)
    {
        const int AtEmptyPath = 0x1000, StatxIno = 0x100;
        var buffer = new byte[256];
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (Statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxIno, buffer) != 0)
            {
                throw new IOException($"statx failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
        return BitConverter.ToUInt64(buffer, 32);
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}

/// <summary>
/// The collector's secret for <see cref="FileIdentity"/>: 32 random bytes in a file of its state directory, made (mode
/// 0600) the first time the collector starts, or by the installer. Losing it only costs a re-read of the current file.
/// </summary>
public static class CursorKey
{
    public const int Length = 32;

    public static byte[] LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllBytes(path);
            if (existing.Length < Length)
            {
                throw new InvalidDataException($"{path} holds {existing.Length} bytes, not a {Length}-byte key; remove it to make a new one (the log is then read again from its start)");
            }
            return existing;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var key = RandomNumberGenerator.GetBytes(Length);
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // Created readable by the collector's user alone, never briefly wider.
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(key);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: false);
        return key;
    }
}
