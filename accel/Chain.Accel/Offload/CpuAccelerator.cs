using System.Security.Cryptography;

namespace Chain.Accel.Offload;

/// <summary>
/// The reference backend: one thread, the platform's own primitives (OpenSSL SHA-256 and AES-GCM through .NET,
/// libsodium Ed25519 through NSec). Every other backend is checked against it.
/// </summary>
public sealed class CpuAccelerator : IAccelerator
{
    public const string BackendName = "cpu";

    /// <summary>One shared instance: the reference holds no state.</summary>
    public static CpuAccelerator Instance { get; } = new();

    public string Name => BackendName;

    public AcceleratorCapabilities Capabilities { get; } = new(AccelOps.All, 1, 1, "1 CPU thread (reference)");

    public void Sha256(IReadOnlyList<ReadOnlyMemory<byte>> messages, Span<Hash32> digests, byte? tag = null)
    {
        AccelArgs.CheckSha256(messages, digests);
        for (var i = 0; i < messages.Count; i++) digests[i] = HashOne(messages[i].Span, tag);
    }

    public int MerkleLevel(byte tag, ReadOnlySpan<Hash32> level, Span<Hash32> next)
    {
        var count = AccelArgs.CheckMerkleLevel(level, next);
        MerkleRange(tag, level, next, 0, level.Length / 2);
        if ((level.Length & 1) == 1) next[count - 1] = level[^1];
        return count;
    }

    public void VerifyEd25519(ReadOnlySpan<SignatureCheck> checks, Span<bool> results)
    {
        AccelArgs.CheckVerify(checks, results);
        for (var i = 0; i < checks.Length; i++) results[i] = VerifyOne(checks[i]);
    }

    public void SealAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items)
    {
        AccelArgs.CheckAead(key, items);
        using var aes = new AesGcm(key, AccelArgs.TagSize);
        foreach (var item in items) SealOne(aes, item);
    }

    public void OpenAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items, Span<bool> results)
    {
        AccelArgs.CheckAead(key, items);
        if (results.Length != items.Length) throw new ArgumentException("results must have one slot per item", nameof(results));
        using var aes = new AesGcm(key, AccelArgs.TagSize);
        for (var i = 0; i < items.Length; i++) results[i] = OpenOne(aes, items[i]);
    }

    public void Dispose()
    {
    }

    internal static Hash32 HashOne(ReadOnlySpan<byte> message, byte? tag) =>
        tag is { } t ? Hashing.Tagged(t, message) : Hashing.Sha256(message);

    /// <summary>Pairs [from, to) of a Merkle level (pair i = level[2i], level[2i+1] → next[i]).</summary>
    internal static void MerkleRange(byte tag, ReadOnlySpan<Hash32> level, Span<Hash32> next, int from, int to)
    {
        for (var i = from; i < to; i++) next[i] = Hashing.Tagged(tag, level[2 * i], level[2 * i + 1]);
    }

    internal static bool VerifyOne(in SignatureCheck check) => Ed25519.Verify(check.Key, check.Message.Span, check.Signature);

    internal static void SealOne(AesGcm aes, in AeadItem item) =>
        aes.Encrypt(item.Nonce.Span, item.Input.Span, item.Output.Span, item.Tag.Span, item.AssociatedData.Span);

    internal static bool OpenOne(AesGcm aes, in AeadItem item)
    {
        try
        {
            aes.Decrypt(item.Nonce.Span, item.Input.Span, item.Tag.Span, item.Output.Span, item.AssociatedData.Span);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            item.Output.Span.Clear();
            return false;
        }
    }
}

/// <summary>The argument checks every backend applies (so they all refuse the same misuse the same way).</summary>
public static class AccelArgs
{
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;

    public static void CheckSha256(IReadOnlyList<ReadOnlyMemory<byte>> messages, Span<Hash32> digests)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (digests.Length != messages.Count)
            throw new ArgumentException($"{messages.Count} messages but room for {digests.Length} digests", nameof(digests));
    }

    /// <summary>Returns the size of the next level.</summary>
    public static int CheckMerkleLevel(ReadOnlySpan<Hash32> level, Span<Hash32> next)
    {
        var count = (level.Length + 1) / 2;
        if (next.Length < count) throw new ArgumentException($"the next level needs {count} slots, has {next.Length}", nameof(next));
        return count;
    }

    public static void CheckVerify(ReadOnlySpan<SignatureCheck> checks, Span<bool> results)
    {
        if (results.Length != checks.Length)
            throw new ArgumentException($"{checks.Length} signatures but room for {results.Length} results", nameof(results));
    }

    public static void CheckAead(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items)
    {
        if (key.Length != KeySize) throw new ArgumentException($"an AES-256 key is {KeySize} bytes, got {key.Length}", nameof(key));
        for (var i = 0; i < items.Length; i++)
        {
            var item = items[i];
            if (item.Nonce.Length != NonceSize) throw new ArgumentException($"item {i}: the nonce must be {NonceSize} bytes", nameof(items));
            if (item.Tag.Length != TagSize) throw new ArgumentException($"item {i}: the tag must be {TagSize} bytes", nameof(items));
            if (item.Output.Length != item.Input.Length) throw new ArgumentException($"item {i}: output and input lengths differ", nameof(items));
        }
    }
}
