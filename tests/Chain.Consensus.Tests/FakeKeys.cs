using System.Text;
using Chain.Accel;

namespace Chain.Consensus.Tests;

/// <summary>
/// Cheap, deterministic stand-ins for Ed25519 keys, for simulations with many replicas and messages.
/// Replica r's secret is <c>SHA-256("sim-key-" + r)</c> (r in decimal) and its signature of a message m is
/// <c>h ‖ h</c> with <c>h = SHA-256(secret(r) ‖ m)</c> (64 bytes); verifying recomputes it. Not secure (anyone
/// can compute the secrets): it only lets a simulation tell replicas' signatures apart, and each replica can
/// only sign through its own <see cref="SignerFor"/> by convention.
/// </summary>
public sealed class FakeKeys : ISignatureVerifier
{
    private readonly Hash32[] _secrets;

    /// <summary>Keys for replicas 0..<paramref name="replicas"/>-1.</summary>
    public FakeKeys(int replicas)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(replicas);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replicas, ushort.MaxValue + 1);
        _secrets = [.. Enumerable.Range(0, replicas).Select(Secret)];
    }

    /// <summary>n: replica ids below it have keys.</summary>
    public int Count => _secrets.Length;

    /// <summary><c>SHA-256("sim-key-" + r)</c>.</summary>
    public static Hash32 Secret(int replica) => Hash32.Sha256(Encoding.UTF8.GetBytes("sim-key-" + replica));

    /// <summary>The signer of replica <paramref name="id"/> (which must be below <see cref="Count"/>).</summary>
    public ISigner SignerFor(ReplicaId id)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id.Value, _secrets.Length, nameof(id));
        return new FakeSigner(_secrets[id.Value]);
    }

    /// <summary>Replica <paramref name="id"/>'s signature of <paramref name="message"/>.</summary>
    public Signature Sign(ReplicaId id, ReadOnlySpan<byte> message) => SignerFor(id).Sign(message);

    /// <summary>True when <paramref name="signer"/> is below n and signed the message so. Never throws.</summary>
    public bool Verify(ReplicaId signer, ReadOnlySpan<byte> message, Signature signature) =>
        signer.Value < _secrets.Length && FakeSigner.Compute(_secrets[signer.Value], message) == signature;
}

/// <summary>One replica's <see cref="FakeKeys"/> signer.</summary>
public sealed class FakeSigner : ISigner
{
    private readonly Hash32 _secret;

    internal FakeSigner(Hash32 secret) => _secret = secret;

    public Signature Sign(ReadOnlySpan<byte> message) => Compute(_secret, message);

    internal static Signature Compute(Hash32 secret, ReadOnlySpan<byte> message)
    {
        var input = new byte[Hash32.Size + message.Length];
        secret.WriteTo(input);
        message.CopyTo(input.AsSpan(Hash32.Size));
        var h = Hash32.Sha256(input);
        Span<byte> signature = stackalloc byte[Signature.Size];
        h.WriteTo(signature);
        h.WriteTo(signature[Hash32.Size..]);
        return new Signature(signature);
    }
}
