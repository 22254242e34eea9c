using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Chain.Accel;

namespace Chain.Simulation;

/// <summary>A transaction's identity: the client and its nonce.</summary>
public readonly record struct TxId(ushort Client, uint Nonce)
{
    public override string ToString() => $"c{Client}#{Nonce}";
}

/// <summary>
/// A simulated client transaction: client id, nonce and a 48-byte fake client signature
/// (SHA-256(clientSecret ‖ client ‖ nonce) followed by its first 16 bytes again; the client secret is
/// SHA-256("sim-client-" + client)). Byzantine code never signs client transactions: it can only reuse them.
/// </summary>
public sealed record SimTransaction(TxId Id, byte[] ClientSignature)
{
    public const int SignatureSize = 48;

    /// <summary>Encoded size: client (2) ‖ nonce (4) ‖ signature (48).</summary>
    public const int EncodedSize = 2 + 4 + SignatureSize;

    public static SimTransaction Create(ushort client, uint nonce) =>
        new(new TxId(client, nonce), ExpectedSignature(new TxId(client, nonce)));

    public static byte[] ExpectedSignature(TxId id)
    {
        Span<byte> body = stackalloc byte[32 + 6];
        SHA256.HashData(Encoding.ASCII.GetBytes("sim-client-" + id.Client), body[..32]);
        BinaryPrimitives.WriteUInt16BigEndian(body[32..], id.Client);
        BinaryPrimitives.WriteUInt32BigEndian(body[34..], id.Nonce);
        var hash = SHA256.HashData(body);
        return [.. hash, .. hash.AsSpan(0, SignatureSize - hash.Length)];
    }

    /// <summary>True if the client is one of <paramref name="clients"/> and the signature is its own.</summary>
    public bool IsValid(int clients) =>
        Id.Client < clients && ClientSignature.AsSpan().SequenceEqual(ExpectedSignature(Id));

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, Id.Client);
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], Id.Nonce);
        ClientSignature.CopyTo(destination[6..]);
    }

    public static SimTransaction ReadFrom(ReadOnlySpan<byte> source) =>
        new(new TxId(BinaryPrimitives.ReadUInt16BigEndian(source), BinaryPrimitives.ReadUInt32BigEndian(source[2..])),
            source.Slice(6, SignatureSize).ToArray());
}

/// <summary>
/// The simulator's proposal payload: <c>parent digest (32) ‖ count (u16) ‖ count × transaction</c>.
/// The digest consensus orders is <c>SHA-256(seq ‖ parent ‖ payload)</c>.
/// </summary>
public static class SimPayload
{
    private const int HeaderSize = Hash32.Size + 2;

    public static byte[] Encode(Hash32 parent, IReadOnlyList<SimTransaction> txs)
    {
        var bytes = new byte[HeaderSize + txs.Count * SimTransaction.EncodedSize];
        parent.WriteTo(bytes);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(Hash32.Size), checked((ushort)txs.Count));
        for (var i = 0; i < txs.Count; i++) txs[i].WriteTo(bytes.AsSpan(HeaderSize + i * SimTransaction.EncodedSize));
        return bytes;
    }

    /// <summary>Strict decode; false on any length or count mismatch.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out Hash32 parent, out SimTransaction[] txs)
    {
        parent = default;
        txs = [];
        if (payload.Length < HeaderSize) return false;
        var count = BinaryPrimitives.ReadUInt16BigEndian(payload[Hash32.Size..]);
        if (payload.Length != HeaderSize + count * SimTransaction.EncodedSize) return false;
        parent = Hash32.FromBytes(payload[..Hash32.Size]);
        txs = new SimTransaction[count];
        for (var i = 0; i < count; i++)
            txs[i] = SimTransaction.ReadFrom(payload[(HeaderSize + i * SimTransaction.EncodedSize)..]);
        return true;
    }

    /// <summary>The digest of a proposal: SHA-256(seq ‖ parent ‖ payload).</summary>
    public static Hash32 Digest(ulong seq, Hash32 parent, ReadOnlySpan<byte> payload)
    {
        var buffer = new byte[8 + Hash32.Size + payload.Length];
        BinaryPrimitives.WriteUInt64BigEndian(buffer, seq);
        parent.WriteTo(buffer.AsSpan(8));
        payload.CopyTo(buffer.AsSpan(8 + Hash32.Size));
        return Hash32.Sha256(buffer);
    }
}
