using System.Text.Json;

namespace Chain.Ledger.Identity;

/// <summary>
/// JSON files that hold a private key: readable and writable by their owner only (0600). Reading refuses a file that
/// group or others can access, as ssh does, and anything that is not a strict JSON document of the expected shape.
/// </summary>
public static class SecretFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Reads <paramref name="path"/> as a <typeparamref name="T"/>. Every failure goes through <paramref name="bad"/>
    /// (a reason and the cause), which builds the caller's typed exception.
    /// </summary>
    public static T Read<T>(string path, string what, Func<string, Exception?, Exception> bad) where T : class
    {
        string text;
        try
        {
            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~(OwnerOnly | UnixFileMode.UserExecute)) != 0)
                throw bad("is readable or writable by group or others; run chmod 600 on it", null);
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw bad($"cannot read: {e.Message}", e);
        }
        try
        {
            return JsonSerializer.Deserialize<T>(text, StrictJson.Options) ?? throw bad($"not {what}", null);
        }
        catch (JsonException e)
        {
            throw bad($"not {what}: {e.Message}", e);
        }
    }

    /// <summary>Creates <paramref name="path"/> (which must not exist) with mode 0600 and writes <paramref name="document"/>, flushed to disk.</summary>
    public static void WriteNew<T>(string path, T document)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnly;
        using var stream = new FileStream(path, options);
        JsonSerializer.Serialize(stream, document, StrictJson.Options);
        stream.Flush(flushToDisk: true);
    }
}
