using Chain.Accel.Encoding;
using Chain.Consensus;
using Chain.Consensus.Codec;
using Chain.Consensus.Messages;

namespace Chain.Simulation.Byzantine;

/// <summary>
/// Sends garbage alongside its honest traffic: on about half of its ticks, one or two of random bytes, a
/// mutated encoding of a message it saw (bytes flipped, truncated or extended), a message re-encoded to claim
/// another replica as its sender (the transport still reports the forger as <see cref="PeerMessage.From"/>), or
/// its own message with a random signature. None of it may be accepted; all of it must be dropped and counted.
/// </summary>
public sealed class ForgingNode(INode inner, ISigner signer, int replicas, Random random)
    : ByzantineNode(inner, signer, replicas, random)
{
    private const int Memory = 32;

    private readonly List<byte[]> _seen = [];
    private readonly CodecLimits _limits = new(replicas, 1 << 20, 64);

    protected override NodeOutput Misbehave(Input input, NodeOutput output)
    {
        if (input is PeerMessage message) Remember(message.Bytes);
        foreach (var envelope in output.Send) Remember(envelope.Bytes);
        if (input is not Tick || Random.NextDouble() >= 0.5) return output;
        var sends = new List<Envelope>(output.Send);
        var count = Random.Next(1, 3);
        for (var i = 0; i < count; i++) sends.Add(new Envelope(RandomOther(), Junk(), null));
        return WithSends(output, sends);
    }

    private byte[] Junk()
    {
        if (_seen.Count == 0) return RandomBytes();
        var original = _seen[Random.Next(_seen.Count)];
        return Random.Next(4) switch
        {
            0 => RandomBytes(),
            1 => Mutate(original),
            2 => ClaimOtherSender(original) ?? Mutate(original),
            _ => BadSignature(original) ?? RandomBytes(),
        };
    }

    private byte[] RandomBytes()
    {
        var bytes = new byte[Random.Next(0, 300)];
        Random.NextBytes(bytes);
        return bytes;
    }

    private byte[] Mutate(byte[] original)
    {
        var bytes = original.ToArray();
        switch (Random.Next(3))
        {
            case 0 when bytes.Length > 0:
                for (var i = Random.Next(1, 4); i > 0; i--)
                    bytes[Random.Next(bytes.Length)] ^= (byte)Random.Next(1, 256);
                return bytes;
            case 1 when bytes.Length > 1:
                return bytes[..Random.Next(bytes.Length)];
            default:
                var extra = new byte[Random.Next(1, 16)];
                Random.NextBytes(extra);
                return [.. bytes, .. extra];
        }
    }

    private ConsensusMessage? TryDecode(byte[] bytes)
    {
        try
        {
            return MessageCodec.Decode(bytes, _limits);
        }
        catch (CanonicalDecodeException)
        {
            return null;
        }
    }

    private byte[]? ClaimOtherSender(byte[] original)
    {
        var message = TryDecode(original);
        if (message is null) return null;
        var other = RandomOther();
        ConsensusMessage forged = message switch
        {
            PrePrepare p => p with { Sender = other },
            Vote v => v with { Sender = other },
            CertificateMessage c => c with { Sender = other },
            Checkpoint c => c with { Sender = other },
            ViewChange vc => vc with { Sender = other },
            NewView nv => nv with { Sender = other },
            _ => message,
        };
        return forged.Sender == Id ? null : MessageCodec.Encode(forged);
    }

    private byte[]? BadSignature(byte[] original)
    {
        ConsensusMessage? forged = TryDecode(original) switch
        {
            Vote v => v with { Sender = Id, Signature = RandomSignature() },
            Checkpoint c => c with { Sender = Id, Signature = RandomSignature() },
            PrePrepare p => p with { Sender = Id, Signature = RandomSignature() },
            ViewChange vc => vc with { Sender = Id, Signature = RandomSignature() },
            _ => null,
        };
        return forged is null ? null : MessageCodec.Encode(forged);
    }

    private void Remember(byte[] bytes)
    {
        if (_seen.Count < Memory) _seen.Add(bytes);
        else _seen[Random.Next(Memory)] = bytes;
    }
}
