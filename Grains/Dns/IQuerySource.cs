namespace CyberWatch.Dns;

/// <summary>
/// Where queries come from. <see cref="ReadAsync"/> returns what is new since the saved position;
/// <see cref="CommitAsync"/> saves the position after the caller has handed the batch on, so a restart
/// neither re-reads nor skips.
/// </summary>
public interface IQuerySource : IAsyncDisposable
{
    string Name { get; }

    Task<IReadOnlyList<ObservedQuery>> ReadAsync(CancellationToken cancellationToken);

    Task CommitAsync(CancellationToken cancellationToken);

    /// <summary>
    /// What <see cref="CommitAsync"/> would save now (its file and JSON), or null when nothing changed: the collector
    /// writes it into the spool with the round's entries, so a crash before the commit cannot read the round again.
    /// </summary>
    SpooledPosition? PendingPosition { get; }
}

/// <summary>A source position as written into the spool: the position file and the JSON it is to hold.</summary>
public sealed record SpooledPosition(string File, string Json);

/// <summary>A small JSON file holding a source's position, replaced atomically.</summary>
public sealed class SourcePosition<T>(string path) where T : class
{
    public string Path { get; } = path;

    public T? Load()
    {
        if (!File.Exists(Path))
        {
            return null;
        }
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<T>(File.ReadAllText(Path));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"saved position {Path} is unreadable ({e.Message}); remove it to start from now", e);
        }
    }

    public Task SaveAsync(T value, CancellationToken cancellationToken) => SaveJsonAsync(Path, Spooled(value).Json, cancellationToken);

    public SpooledPosition Spooled(T value) => new(System.IO.Path.GetFullPath(Path), System.Text.Json.JsonSerializer.Serialize(value));

    /// <summary>Replaces the position file with <paramref name="json"/> atomically (also used to replay a spooled position).</summary>
    public static async Task SaveJsonAsync(string path, string json, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(json), cancellationToken);
            await stream.FlushAsync(cancellationToken);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
