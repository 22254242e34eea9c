using System.Security.Cryptography;
using Chain.Ledger.Identity;

namespace Chain.Client.Imaging;

/// <summary>
/// An image master key on disk: JSON (kind, fingerprint, key; hex) in an owner-only file (0600) through
/// <see cref="SecretFile"/>; loading refuses a file that group or others can read, as ssh does.
/// </summary>
public static class ImageKeyFile
{
    private const string Kind = "chain-image-key";

    private sealed record Document(string Kind, string Fingerprint, string Key);

    /// <summary>Generates a key and writes it to <paramref name="path"/>, which must not exist (an existing file is never replaced).</summary>
    public static ImageKey Generate(string path)
    {
        var key = ImageKey.Create();
        try
        {
            Write(path, key);
            return key;
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>Writes <paramref name="key"/> to a new owner-only file.</summary>
    public static void Write(string path, ImageKey key)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(key);
        if (File.Exists(path) || Directory.Exists(path))
            throw new ImageCipherException(ImageError.BadKeyFile, $"{path} already exists: a key file is never overwritten");
        try
        {
            SecretFile.WriteNew(path, new Document(Kind, key.Fingerprint, Convert.ToHexStringLower(key.Bytes)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageCipherException(ImageError.BadKeyFile,
                File.Exists(path) ? $"{path} already exists: a key file is never overwritten" : $"cannot write key file {path}: {e.Message}", e);
        }
    }

    /// <summary>Loads a key written by <see cref="Write"/>; <see cref="ImageError.BadKeyFile"/> if unreadable, malformed, inconsistent or too open.</summary>
    public static ImageKey Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        static ImageCipherException Bad(string path, string why, Exception? e = null) =>
            e is null ? new(ImageError.BadKeyFile, $"image key file {path}: {why}") : new(ImageError.BadKeyFile, $"image key file {path}: {why}", e);
        if (!File.Exists(path)) throw Bad(path, "does not exist");
        var doc = SecretFile.Read<Document>(path, "an image key file", (why, e) => Bad(path, why, e));
        if (doc.Kind != Kind) throw Bad(path, $"not an image key file (kind must be '{Kind}')");
        byte[] bytes;
        try
        {
            bytes = Convert.FromHexString(doc.Key ?? "");
        }
        catch (FormatException e)
        {
            throw Bad(path, "the key is not hex", e);
        }
        try
        {
            if (bytes.Length != ImageKey.Size) throw Bad(path, $"the key must be {ImageKey.Size} bytes");
            var key = ImageKey.FromBytes(bytes, ImageKeySource.KeyFile);
            if (!string.Equals(key.Fingerprint, doc.Fingerprint, StringComparison.OrdinalIgnoreCase))
            {
                key.Dispose();
                throw Bad(path, "the fingerprint does not match the key");
            }
            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }
}
