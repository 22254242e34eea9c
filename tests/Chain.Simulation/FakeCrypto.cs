using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Chain.Accel;
using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>
/// A fast, deterministic stand-in for Ed25519 so thousands of schedules run in seconds:
/// <c>secret(r) = SHA-256("sim-key-" + r)</c> and <c>sign(r, m) = h ‖ h</c> with <c>h = SHA-256(secret(r) ‖ m)</c>.
/// Only a holder of <c>secret(r)</c> can sign for r; Byzantine code is given its own signer only.
/// </summary>
public static class FakeKeys
{
    public static byte[] Secret(ReplicaId replica) =>
        SHA256.HashData(Encoding.ASCII.GetBytes("sim-key-" + replica.Value));

    /// <summary>The 64-byte fake signature of <paramref name="message"/> under <paramref name="secret"/>.</summary>
    public static Signature Sign(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> message)
    {
        Span<byte> signature = stackalloc byte[Signature.Size];
        Compute(secret, message, signature);
        return new Signature(signature);
    }

    internal static void Compute(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> message, Span<byte> signature)
    {
        var length = secret.Length + message.Length;
        byte[]? rented = null;
        var buffer = length <= 512
            ? stackalloc byte[length]
            : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        secret.CopyTo(buffer);
        message.CopyTo(buffer[secret.Length..]);
        SHA256.HashData(buffer, signature[..32]);
        signature[..32].CopyTo(signature[32..]);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
    }
}

/// <summary>Signs as one replica with the fake scheme.</summary>
public sealed class FakeSigner(ReplicaId replica) : ISigner
{
    private readonly byte[] _secret = FakeKeys.Secret(replica);

    public ReplicaId Replica { get; } = replica;

    public Signature Sign(ReadOnlySpan<byte> message) => FakeKeys.Sign(_secret, message);
}

/// <summary>Verifies fake signatures of replicas 0..n-1 by recomputing them. Never throws.</summary>
public sealed class FakeVerifier : ISignatureVerifier
{
    private readonly byte[][] _secrets;

    public FakeVerifier(int replicas)
    {
        _secrets = new byte[replicas][];
        for (var i = 0; i < replicas; i++) _secrets[i] = FakeKeys.Secret(new ReplicaId((ushort)i));
    }

    public bool Verify(ReplicaId signer, ReadOnlySpan<byte> message, Signature signature)
    {
        if (signer.Value >= _secrets.Length) return false;
        Span<byte> expected = stackalloc byte[Signature.Size];
        FakeKeys.Compute(_secrets[signer.Value], message, expected);
        return expected.SequenceEqual(signature.Span);
    }
}

/// <summary>Counts calls (the "signature verifications per block" metric) and delegates.</summary>
public sealed class CountingVerifier(ISignatureVerifier inner) : ISignatureVerifier
{
    public long Calls { get; private set; }

    public bool Verify(ReplicaId signer, ReadOnlySpan<byte> message, Signature signature)
    {
        Calls++;
        return inner.Verify(signer, message, signature);
    }
}
