using System.Buffers.Binary;
using System.Text;

namespace Chain.Ai.Federated.Ledger;

/// <summary>What a federated payload carries.</summary>
public enum PayloadKind : byte
{
    /// <summary>A client's update: its local model minus the round's global model.</summary>
    Update = 1,
    /// <summary>A global model: the round's starting point, or its aggregate.</summary>
    Model = 2,
}

/// <summary>A payload that does not decode, or does not belong where it was found.</summary>
public sealed class FederatedPayloadException(string message) : Exception(message);

/// <summary>
/// An off-chain federated-learning payload (a blob the ledger records by SHA-256): a client's update or a global model,
/// bound to its round and sender so a blob cannot be replayed into another round or claimed by another hospital.
/// Layout (little-endian): "CFL1", kind (1 byte), round (u16 length + UTF-8), sender (u16 length + UTF-8), examples
/// (i32), count (i32), then count float32 values; nothing after. Decoding is strict: wrong magic, kind, lengths,
/// non-finite values or trailing bytes are refused.
/// </summary>
public sealed record FederatedPayload(PayloadKind Kind, string Round, string Sender, int Examples, float[] Values)
{
    private static readonly byte[] Magic = "CFL1"u8.ToArray();
    public const int MaxValues = 4_000_000;
    public const int MaxNameBytes = 128;
    private static readonly UTF8Encoding Strict = new(false, true);

    public byte[] Encode()
    {
        var round = Name(Round, "round");
        var sender = Name(Sender, "sender");
        if (Examples < 0) throw new FederatedPayloadException("examples cannot be negative");
        if (Values is null || Values.Length is 0 or > MaxValues) throw new FederatedPayloadException($"a payload holds 1 to {MaxValues} values");
        foreach (var v in Values)
            if (!float.IsFinite(v)) throw new FederatedPayloadException("a payload cannot hold NaN or infinite values");
        var bytes = new byte[4 + 1 + 2 + round.Length + 2 + sender.Length + 4 + 4 + 4 * Values.Length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        var at = 4;
        span[at++] = (byte)Kind;
        at = WriteName(span, at, round);
        at = WriteName(span, at, sender);
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], Examples);
        BinaryPrimitives.WriteInt32LittleEndian(span[(at + 4)..], Values.Length);
        at += 8;
        foreach (var v in Values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(span[at..], v);
            at += 4;
        }
        return bytes;
    }

    public static FederatedPayload Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 4 + 1 + 2 + 2 + 8 || !bytes[..4].SequenceEqual(Magic)) throw new FederatedPayloadException("not a federated payload (magic)");
        var kind = (PayloadKind)bytes[4];
        if (kind is not (PayloadKind.Update or PayloadKind.Model)) throw new FederatedPayloadException($"unknown payload kind {bytes[4]}");
        var at = 5;
        var round = ReadName(bytes, ref at, "round");
        var sender = ReadName(bytes, ref at, "sender");
        if (bytes.Length - at < 8) throw new FederatedPayloadException("truncated payload header");
        var examples = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(bytes[(at + 4)..]);
        at += 8;
        if (examples < 0) throw new FederatedPayloadException("negative example count");
        if (count is <= 0 or > MaxValues) throw new FederatedPayloadException($"value count {count} is out of range (1 to {MaxValues})");
        if (bytes.Length - at != 4L * count) throw new FederatedPayloadException($"payload holds {bytes.Length - at} value bytes, its header says {4L * count}");
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            var v = BinaryPrimitives.ReadSingleLittleEndian(bytes[(at + 4 * i)..]);
            if (!float.IsFinite(v)) throw new FederatedPayloadException($"value {i} is not finite");
            values[i] = v;
        }
        return new FederatedPayload(kind, round, sender, examples, values);
    }

    /// <summary>Decodes and checks that the payload is what the ledger says it is: its kind, round, sender and length.</summary>
    public static FederatedPayload DecodeExpected(ReadOnlySpan<byte> bytes, PayloadKind kind, string round, string? sender, int length)
    {
        var p = Decode(bytes);
        if (p.Kind != kind) throw new FederatedPayloadException($"expected a {kind} payload, got a {p.Kind}");
        if (p.Round != round) throw new FederatedPayloadException($"payload belongs to round {p.Round}, not {round}");
        if (sender is not null && p.Sender != sender) throw new FederatedPayloadException($"payload was made by {p.Sender}, not {sender}");
        if (p.Values.Length != length) throw new FederatedPayloadException($"payload holds {p.Values.Length} values, the model has {length}");
        return p;
    }

    private static byte[] Name(string? value, string what)
    {
        if (string.IsNullOrEmpty(value)) throw new FederatedPayloadException($"{what} is empty");
        var b = Encoding.UTF8.GetBytes(value);
        return b.Length <= MaxNameBytes ? b : throw new FederatedPayloadException($"{what} is over {MaxNameBytes} bytes");
    }

    private static int WriteName(Span<byte> span, int at, byte[] name)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)name.Length);
        name.CopyTo(span[(at + 2)..]);
        return at + 2 + name.Length;
    }

    private static string ReadName(ReadOnlySpan<byte> bytes, ref int at, string what)
    {
        if (bytes.Length - at < 2) throw new FederatedPayloadException($"truncated {what}");
        var length = BinaryPrimitives.ReadUInt16LittleEndian(bytes[at..]);
        at += 2;
        if (length is 0 or > MaxNameBytes || bytes.Length - at < length) throw new FederatedPayloadException($"bad {what} length {length}");
        try
        {
            var s = Strict.GetString(bytes.Slice(at, length));
            at += length;
            return s;
        }
        catch (DecoderFallbackException)
        {
            throw new FederatedPayloadException($"{what} is not UTF-8");
        }
    }
}
