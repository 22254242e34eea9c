namespace Chain.Accel.Offload;

/// <summary>The operations an accelerator can take.</summary>
[Flags]
public enum AccelOps
{
    None = 0,

    /// <summary>Batch SHA-256, plain or with a one-byte domain tag (<see cref="IAccelerator.Sha256"/>).</summary>
    Sha256 = 1,

    /// <summary>One Merkle level at a time (<see cref="IAccelerator.MerkleLevel"/>).</summary>
    MerkleLevel = 2,

    /// <summary>Batch Ed25519 verification (<see cref="IAccelerator.VerifyEd25519"/>).</summary>
    Ed25519Verify = 4,

    /// <summary>Bulk AES-256-GCM (<see cref="IAccelerator.SealAesGcm"/>, <see cref="IAccelerator.OpenAesGcm"/>).</summary>
    AesGcm = 8,

    All = Sha256 | MerkleLevel | Ed25519Verify | AesGcm,
}

/// <summary>
/// What a backend supports and the batches it likes. Work it does not support, and batches smaller than
/// <see cref="MinBatch"/>, are done by the CPU reference instead (<see cref="CheckedAccelerator"/> routes them).
/// </summary>
/// <param name="Supported">The operations the backend takes.</param>
/// <param name="MinBatch">Below this many items a batch is not worth sending (launch and transfer overhead).</param>
/// <param name="PreferredBatch">The batch size the backend is fastest at; callers may split larger batches.</param>
/// <param name="Device">What runs the work, for logs and status (e.g. "2 CPU threads", "pthread-AMD EPYC (PoCL)").</param>
public sealed record AcceleratorCapabilities(AccelOps Supported, int MinBatch, int PreferredBatch, string Device)
{
    public bool Supports(AccelOps op) => (Supported & op) == op;
}

/// <summary>One Ed25519 signature to check: <paramref name="Signature"/> by <paramref name="Key"/> over <paramref name="Message"/>.</summary>
public readonly record struct SignatureCheck(PublicKey Key, ReadOnlyMemory<byte> Message, Signature Signature);

/// <summary>
/// One AES-256-GCM item of a bulk operation: <see cref="Input"/> (plaintext to seal, or ciphertext to open) is
/// transformed into <see cref="Output"/> (same length); <see cref="Tag"/> (16 bytes) is written when sealing and
/// checked when opening; <see cref="Nonce"/> is 12 bytes; <see cref="AssociatedData"/> is authenticated, not
/// encrypted.
/// </summary>
public readonly record struct AeadItem(
    ReadOnlyMemory<byte> Nonce,
    ReadOnlyMemory<byte> AssociatedData,
    ReadOnlyMemory<byte> Input,
    Memory<byte> Output,
    Memory<byte> Tag);

/// <summary>
/// The accelerator contract: the hash, signature and encryption work Chain offloads. Every backend must give
/// bit-identical results to the CPU reference (<see cref="CpuAccelerator"/>); <see cref="CheckedAccelerator"/>
/// holds them to that. Implementations must be safe to call from several threads at once and must not keep
/// references to the caller's buffers after a call returns. Arguments are checked (lengths match, a key is 32
/// bytes, ...) and a mismatch throws <see cref="ArgumentException"/>; bad data (a malformed key or signature, a
/// tampered ciphertext) never throws: it gives false.
/// </summary>
public interface IAccelerator : IDisposable
{
    /// <summary>The backend's configured name ("cpu", "cpu-parallel", "opencl", ...).</summary>
    string Name { get; }

    AcceleratorCapabilities Capabilities { get; }

    /// <summary>
    /// digests[i] = SHA-256(messages[i]), or SHA-256(tag || messages[i]) when <paramref name="tag"/> is given.
    /// <paramref name="digests"/> has exactly as many items as <paramref name="messages"/>.
    /// </summary>
    void Sha256(IReadOnlyList<ReadOnlyMemory<byte>> messages, Span<Hash32> digests, byte? tag = null);

    /// <summary>
    /// One level of a binary Merkle tree: next[i] = SHA-256(tag || level[2i] || level[2i+1]); an odd last node is
    /// carried up unchanged. <paramref name="next"/> has room for (level.Length + 1) / 2 items; returns how many were
    /// written. An empty level gives an empty level.
    /// </summary>
    int MerkleLevel(byte tag, ReadOnlySpan<Hash32> level, Span<Hash32> next);

    /// <summary>results[i] = whether checks[i] is a valid Ed25519 signature (RFC 8032, as libsodium checks it).</summary>
    void VerifyEd25519(ReadOnlySpan<SignatureCheck> checks, Span<bool> results);

    /// <summary>Encrypts every item with AES-256-GCM under <paramref name="key"/> (32 bytes), writing output and tag.</summary>
    void SealAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items);

    /// <summary>
    /// Decrypts every item; results[i] is false when item i does not authenticate (its output is then zeroed).
    /// </summary>
    void OpenAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items, Span<bool> results);
}
