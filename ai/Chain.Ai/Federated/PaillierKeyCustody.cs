using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using Chain.Ai.OnChain;

namespace Chain.Ai.Federated;

/// <summary>A Paillier private key sealed under share custody.</summary>
/// <param name="Vault">The sealed file and its custody record (<see cref="WeightsVault.SealAsync"/>).</param>
/// <param name="Bits">The modulus size.</param>
/// <param name="PublicKeyFingerprint">SHA-256 of n (hex, <see cref="PaillierVector.KeyFingerprint"/>): the key the clients encrypt with.</param>
public sealed record SealedPaillierKey(SealedWeights Vault, int Bits, string PublicKeyFingerprint);

/// <summary>
/// The aggregation's decryption key under share custody, so that no single party can decrypt one hospital's update: the
/// private key (p, q) is encoded (<see cref="EncodePrivateKey"/>), encrypted by <see cref="WeightsVault"/> under a fresh
/// AES key whose secret is split t-of-n among the custodian hospitals by the <c>custody</c> contract, and released to a
/// requester only after t approvals (<see cref="OpenAsync"/>), which then checks that the key opened is the private half
/// of the public key the clients encrypted with. Whoever holds the released key can decrypt every ciphertext under it, so
/// the release is for the sum only: the aggregator should hold the encrypted updates and hand out only the aggregate.
/// </summary>
/// <remarks>
/// <see cref="WeightsVault"/> works on files, so the encoded key exists as a plaintext file for the duration of a seal or
/// an open: in a fresh directory of mode 0700 (under /dev/shm, memory-backed, when it exists), the file of mode 0600,
/// overwritten with zeros and deleted straight after.
/// </remarks>
public static class PaillierKeyCustody
{
    private const byte Version = 1;
    private const int MaxPrimeBytes = PaillierKeyPair.MaxBits / 16 + 1;
    private static ReadOnlySpan<byte> Magic => "PKEY"u8;

    /// <summary>"PKEY", version 1, bits (int32), then p and q each as a length (int32) and unsigned big-endian bytes.</summary>
    public static byte[] EncodePrivateKey(PaillierKeyPair keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var p = keys.PrivateKey.P.ToByteArray(isUnsigned: true, isBigEndian: true);
        var q = keys.PrivateKey.Q.ToByteArray(isUnsigned: true, isBigEndian: true);
        var bytes = new byte[4 + 1 + 4 + 4 + p.Length + 4 + q.Length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        span[4] = Version;
        BinaryPrimitives.WriteInt32BigEndian(span[5..], keys.PublicKey.Bits);
        BinaryPrimitives.WriteInt32BigEndian(span[9..], p.Length);
        p.CopyTo(span[13..]);
        BinaryPrimitives.WriteInt32BigEndian(span[(13 + p.Length)..], q.Length);
        q.CopyTo(span[(17 + p.Length)..]);
        CryptographicOperations.ZeroMemory(p);
        CryptographicOperations.ZeroMemory(q);
        return bytes;
    }

    /// <summary>
    /// Decodes a private key strictly and checks it is the private half of <paramref name="expected"/> (p·q = n, both prime):
    /// <see cref="PaillierException"/> (<see cref="PaillierError.Truncated"/>, <see cref="PaillierError.Malformed"/>,
    /// <see cref="PaillierError.WrongKey"/>) otherwise.
    /// </summary>
    public static PaillierKeyPair DecodePrivateKey(ReadOnlySpan<byte> bytes, PaillierPublicKey expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        if (bytes.Length < 13) throw new PaillierException(PaillierError.Truncated, "The key encoding is shorter than its header.");
        if (!bytes[..4].SequenceEqual(Magic)) throw new PaillierException(PaillierError.Malformed, "Not a Paillier key (no PKEY magic).");
        if (bytes[4] != Version) throw new PaillierException(PaillierError.Malformed, $"Unsupported key encoding version {bytes[4]}.");
        var bits = BinaryPrimitives.ReadInt32BigEndian(bytes[5..]);
        var p = ReadPrime(bytes, 9, out var next);
        var q = ReadPrime(bytes, next, out next);
        if (next != bytes.Length) throw new PaillierException(PaillierError.Malformed, $"{bytes.Length - next} bytes after the key.");
        if (bits != expected.Bits || p * q != expected.N)
            throw new PaillierException(PaillierError.WrongKey, "The key opened is not the private half of the expected public key (p·q ≠ n).");
        try
        {
            return PaillierKeyPair.FromPrimes(p, q);
        }
        catch (ArgumentException e)
        {
            throw new PaillierException(PaillierError.Malformed, $"The key opened is not a valid Paillier key: {e.Message}");
        }
    }

    /// <summary>
    /// Seals <paramref name="keys"/>' private key with <paramref name="vault"/> (this hospital deals): encrypted to
    /// <paramref name="encryptedPath"/> (which must not exist), its AES key's secret split <paramref name="threshold"/>-of-n
    /// among <paramref name="custodians"/> as custody record <paramref name="custodyId"/>. The custodians then acknowledge
    /// (<see cref="WeightsVault.AcknowledgeAsync"/>); the caller should drop its own copy of the key pair.
    /// </summary>
    public static async Task<SealedPaillierKey> SealAsync(WeightsVault vault, PaillierKeyPair keys, string encryptedPath, string custodyId,
        int threshold, IReadOnlyList<string> custodians, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(keys);
        var dir = PrivateDirectory();
        try
        {
            var plain = Path.Combine(dir, "paillier.key");
            var encoded = EncodePrivateKey(keys);
            try
            {
                WritePrivate(plain, encoded);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(encoded);
            }
            var sealedKey = await vault.SealAsync(plain, encryptedPath, custodyId, threshold, custodians, cancellationToken).ConfigureAwait(false);
            return new SealedPaillierKey(sealedKey, keys.PublicKey.Bits, Convert.ToHexStringLower(PaillierVector.KeyFingerprint(keys.PublicKey)));
        }
        finally
        {
            Shred(dir);
        }
    }

    /// <summary>
    /// As the requester of release <paramref name="requestId"/> (after t custodians approved it): combines the approvals,
    /// decrypts <paramref name="encryptedPath"/> and returns the key pair, checked against <paramref name="expectedPublicKey"/>
    /// (the key the clients encrypted with). Before t approvals this throws <see cref="Chain.Client.Custody.CustodyException"/>;
    /// an altered file <see cref="Chain.Client.Imaging.ImageCipherException"/>; another key <see cref="PaillierException"/>.
    /// </summary>
    public static async Task<PaillierKeyPair> OpenAsync(WeightsVault vault, string custodyId, string requestId, string encryptedPath,
        PaillierPublicKey expectedPublicKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vault);
        ArgumentNullException.ThrowIfNull(expectedPublicKey);
        var dir = PrivateDirectory();
        try
        {
            var plain = Path.Combine(dir, "paillier.key");
            await vault.OpenAsync(custodyId, requestId, encryptedPath, plain, cancellationToken: cancellationToken).ConfigureAwait(false);
            var bytes = await File.ReadAllBytesAsync(plain, cancellationToken).ConfigureAwait(false);
            try
            {
                return DecodePrivateKey(bytes, expectedPublicKey);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(bytes);
            }
        }
        finally
        {
            Shred(dir);
        }
    }

    private static BigInteger ReadPrime(ReadOnlySpan<byte> bytes, int at, out int next)
    {
        if (bytes.Length < at + 4) throw new PaillierException(PaillierError.Truncated, "The key encoding ends inside a length.");
        var length = BinaryPrimitives.ReadInt32BigEndian(bytes[at..]);
        if (length is < 1 or > MaxPrimeBytes) throw new PaillierException(PaillierError.Malformed, $"A prime of {length} bytes.");
        if (bytes.Length < at + 4 + length) throw new PaillierException(PaillierError.Truncated, "The key encoding ends inside a prime.");
        next = at + 4 + length;
        return new BigInteger(bytes.Slice(at + 4, length), isUnsigned: true, isBigEndian: true);
    }

    private static string PrivateDirectory()
    {
        var root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        var dir = Path.Combine(root, "chain-ai-paillier-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
        else Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    private static void WritePrivate(string path, byte[] bytes)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        stream.Write(bytes);
    }

    /// <summary>Overwrites every file in <paramref name="dir"/> with zeros and deletes the directory (best effort).</summary>
    private static void Shred(string dir)
    {
        try
        {
            foreach (var file in Directory.EnumerateFiles(dir))
            {
                var length = new FileInfo(file).Length;
                using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
                {
                    stream.Write(new byte[length]);
                    stream.Flush(flushToDisk: true);
                }
                File.Delete(file);
            }
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // best effort: the directory is private to this user
        }
    }
}
