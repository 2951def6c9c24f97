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
}

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

    public async Task SaveAsync(T value, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
        var temporary = Path + ".tmp";
        await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            await System.Text.Json.JsonSerializer.SerializeAsync(stream, value, cancellationToken: cancellationToken);
            await stream.FlushAsync(cancellationToken);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, Path, overwrite: true);
    }
}
