using System.Security.Cryptography;
using Chain.Accel.Offload;

namespace Chain.Accel.Tests.Cpu;

/// <summary>Random batches from a seed (every property prints the seed it failed with, and replays from it).</summary>
internal static class TestData
{
    /// <summary>Lengths around SHA-256's padding and block boundaries, and some larger ones.</summary>
    public static readonly int[] EdgeLengths = [0, 1, 31, 32, 33, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 255, 256, 1000, 4096];

    public static List<ReadOnlyMemory<byte>> Messages(Random rng, int count, int maxLength = 300)
    {
        var list = new List<ReadOnlyMemory<byte>>(count);
        for (var i = 0; i < count; i++)
        {
            var length = rng.Next(4) == 0 ? EdgeLengths[rng.Next(EdgeLengths.Length)] : rng.Next(maxLength + 1);
            var bytes = new byte[length + 8];
            rng.NextBytes(bytes);
            // Some messages are slices of a larger buffer (not starting at offset 0).
            list.Add(bytes.AsMemory(rng.Next(9) % 8, length));
        }
        return list;
    }

    public static Hash32[] Hashes(Random rng, int count)
    {
        var hashes = new Hash32[count];
        Span<byte> b = stackalloc byte[32];
        for (var i = 0; i < count; i++)
        {
            rng.NextBytes(b);
            hashes[i] = Hash32.FromBytes(b);
        }
        return hashes;
    }

    /// <summary>Signature checks, about half of them bad in one of several ways; also returns which should verify.</summary>
    public static (SignatureCheck[] Checks, bool[] Expected) Signatures(Random rng, int count, SigningKey[] keys)
    {
        var checks = new SignatureCheck[count];
        var expected = new bool[count];
        for (var i = 0; i < count; i++)
        {
            var key = keys[rng.Next(keys.Length)];
            var message = new byte[rng.Next(200)];
            rng.NextBytes(message);
            var signature = key.Sign(message);
            var check = new SignatureCheck(key.PublicKey, message, signature);
            expected[i] = true;
            switch (rng.Next(8))
            {
                case 0 when message.Length > 0:
                    var altered = (byte[])message.Clone();
                    altered[rng.Next(altered.Length)] ^= (byte)(1 << rng.Next(8));
                    check = check with { Message = altered };
                    expected[i] = false;
                    break;
                case 1:
                    var sig = signature.Span.ToArray();
                    sig[rng.Next(sig.Length)] ^= (byte)(1 << rng.Next(8));
                    check = check with { Signature = new Signature(sig) };
                    expected[i] = false;
                    break;
                case 2:
                    check = check with { Key = keys[(Array.IndexOf(keys, key) + 1) % keys.Length].PublicKey };
                    expected[i] = keys.Length == 1;
                    break;
                case 3:
                    // Not a point on the curve, or a small-order one: libsodium refuses both.
                    var bad = new byte[32];
                    rng.NextBytes(bad);
                    check = check with { Key = PublicKey.FromBytes(rng.Next(2) == 0 ? bad : new byte[32]) };
                    expected[i] = false;
                    break;
            }
            checks[i] = check;
        }
        return (checks, expected);
    }

    public static byte[] Key(Random rng)
    {
        var key = new byte[32];
        rng.NextBytes(key);
        return key;
    }

    /// <summary>AES-GCM items over random plaintexts, each with its own nonce and associated data.</summary>
    public static AeadItem[] AeadItems(Random rng, int count, int maxLength = 5000)
    {
        var items = new AeadItem[count];
        for (var i = 0; i < count; i++)
        {
            var plain = new byte[rng.Next(maxLength + 1)];
            rng.NextBytes(plain);
            var nonce = new byte[12];
            rng.NextBytes(nonce);
            var aad = new byte[rng.Next(40)];
            rng.NextBytes(aad);
            items[i] = new AeadItem(nonce, aad, plain, new byte[plain.Length], new byte[16]);
        }
        return items;
    }

    public static Hash32 Sha256(ReadOnlySpan<byte> data, byte? tag)
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (tag is { } t) h.AppendData([t]);
        h.AppendData(data);
        return Hash32.FromBytes(h.GetHashAndReset());
    }
}
