using Chain.Ledger.Identity;
using NSec.Cryptography;

namespace Chain.Client.Custody;

/// <summary>
/// A hospital's custody key: an X25519 key pair. Its public half is registered on chain (<c>register-key</c>); dealers
/// and custodians seal shares to it with <see cref="SealedBox"/>. On disk it is JSON (kind, public key, private key,
/// hex), written atomically with owner-only permissions (0600); loading refuses a file that group or others can read.
/// </summary>
public sealed class CustodyKeyPair : IDisposable
{
    private const string Kind = "chain-x25519-custody-key";

    private sealed record Document(string Kind, string PublicKey, string PrivateKey);

    private CustodyKeyPair(Key key)
    {
        Key = key;
        PublicKeyHex = Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    /// <summary>The public key as 64 lowercase hex characters, as <c>register-key</c> expects.</summary>
    public string PublicKeyHex { get; }

    internal Key Key { get; }

    /// <summary>A fresh key pair from the operating system's CSPRNG (through libsodium).</summary>
    public static CustodyKeyPair Create() => new(Key.Create(KeyAgreementAlgorithm.X25519, Exportable()));

    /// <summary>A key pair from its 32-byte private key.</summary>
    public static CustodyKeyPair FromPrivateKey(ReadOnlySpan<byte> privateKey)
    {
        if (privateKey.Length != 32) throw new CustodyException("an X25519 private key is 32 bytes");
        return new(Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey, Exportable()));
    }

    /// <summary>Writes the key pair to <paramref name="path"/> (replacing it) through a temporary file, mode 0600.</summary>
    public void Save(string path)
    {
        var full = Path.GetFullPath(path);
        var doc = new Document(Kind, PublicKeyHex, Convert.ToHexStringLower(Key.Export(KeyBlobFormat.RawPrivateKey)));
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            SecretFile.WriteNew(temp, doc);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new CustodyException($"cannot write custody key file {path}: {e.Message}", e);
        }
    }

    /// <summary>Loads a key pair written by <see cref="Save"/>; <see cref="CustodyException"/> if unreadable, malformed, inconsistent or too open.</summary>
    public static CustodyKeyPair Load(string path)
    {
        static CustodyException Bad(string path, string why, Exception? e = null) =>
            e is null ? new($"custody key file {path}: {why}") : new($"custody key file {path}: {why}", e);
        var doc = SecretFile.Read<Document>(path, "a custody key file", (why, e) => Bad(path, why, e));
        if (doc.Kind != Kind) throw Bad(path, $"not a custody key file (kind must be '{Kind}')");
        byte[] secret;
        try
        {
            secret = Convert.FromHexString(doc.PrivateKey);
        }
        catch (FormatException e)
        {
            throw Bad(path, "the private key is not hex", e);
        }
        if (secret.Length != 32) throw Bad(path, "the private key must be 32 bytes");
        var pair = FromPrivateKey(secret);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(secret);
        if (pair.PublicKeyHex != doc.PublicKey.ToLowerInvariant())
        {
            pair.Dispose();
            throw Bad(path, "the public key does not match the private key");
        }
        return pair;
    }

    public void Dispose() => Key.Dispose();

    private static KeyCreationParameters Exportable() => new() { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: the temporary file holds the key with mode 0600
        }
    }
}
