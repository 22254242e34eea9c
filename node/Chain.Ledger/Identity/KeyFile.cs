using Chain.Accel;

namespace Chain.Ledger.Identity;

/// <summary>
/// An Ed25519 key on disk: JSON with the key's name, public key and 32-byte seed, both hex. Written with
/// owner-only permissions (0600); loading refuses a file that group or others can read, as ssh does.
/// </summary>
public static class KeyFile
{
    private const string Kind = "chain-ed25519-key";

    private sealed record Document(string Kind, string Name, string PublicKey, string Seed);

    /// <summary>Generates a key and writes it to <paramref name="path"/> (which must not exist yet).</summary>
    public static PublicKey Generate(string path, string name)
    {
        using var key = SigningKey.Generate();
        Write(path, name, key);
        return key.PublicKey;
    }

    /// <summary>Writes <paramref name="key"/> to a new file readable only by its owner.</summary>
    public static void Write(string path, string name, SigningKey key)
    {
        var doc = new Document(Kind, name, key.PublicKey.ToString(), Convert.ToHexStringLower(key.ExportSeed()));
        try
        {
            SecretFile.WriteNew(path, doc);
        }
        catch (IOException e)
        {
            throw new LedgerException(LedgerError.InvalidKeyFile, $"cannot write key file {path}: {e.Message}", e);
        }
    }

    /// <summary>Loads a key; <see cref="LedgerError.InvalidKeyFile"/> if unreadable, malformed, inconsistent or too open.</summary>
    public static SigningKey Load(string path)
    {
        static LedgerException Bad(string path, string why, Exception? e = null) =>
            new(LedgerError.InvalidKeyFile, $"{path}: {why}", e);
        var doc = SecretFile.Read<Document>(path, "a key file", (why, e) => Bad(path, why, e));
        if (doc.Kind != Kind) throw Bad(path, $"kind must be '{Kind}'");
        byte[] seed;
        try
        {
            seed = Convert.FromHexString(doc.Seed);
        }
        catch (FormatException e)
        {
            throw Bad(path, "seed is not hex", e);
        }
        if (seed.Length != 32) throw Bad(path, "seed must be 32 bytes");
        var key = SigningKey.FromSeed(seed);
        if (key.PublicKey.ToString() != doc.PublicKey.ToLowerInvariant())
        {
            key.Dispose();
            throw Bad(path, "public key does not match the seed");
        }
        return key;
    }
}
