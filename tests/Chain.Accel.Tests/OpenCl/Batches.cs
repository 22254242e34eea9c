using Chain.Accel.Offload;

namespace Chain.Accel.Tests.OpenCl;

/// <summary>Random SHA-256 batches and Merkle levels, drawn from a <see cref="Random"/> (seeded by FsCheck).</summary>
internal static class Batches
{
    /// <summary>Lengths around SHA-256's padding boundaries (55/56 bytes fit one block with the length, 63/64, 119/120 two).</summary>
    public static readonly int[] BoundaryLengths =
        [0, 1, 2, 3, 4, 5, 31, 32, 33, 54, 55, 56, 57, 62, 63, 64, 65, 118, 119, 120, 121, 127, 128, 129];

    /// <summary>
    /// Up to <paramref name="maxCount"/> messages, each a slice at a random offset of a larger array (so the memory
    /// does not start at 0), with lengths from the boundary set or uniform in 0..300.
    /// </summary>
    public static ReadOnlyMemory<byte>[] Messages(Random rng, int maxCount)
    {
        var count = rng.Next(4) == 0 ? rng.Next(3) : rng.Next(maxCount + 1);
        var messages = new ReadOnlyMemory<byte>[count];
        for (var i = 0; i < count; i++)
        {
            var length = rng.Next(2) == 0 ? BoundaryLengths[rng.Next(BoundaryLengths.Length)] : rng.Next(301);
            messages[i] = Slice(rng, length);
        }
        return messages;
    }

    public static ReadOnlyMemory<byte> Slice(Random rng, int length)
    {
        var before = rng.Next(8);
        var bytes = new byte[before + length + rng.Next(8)];
        rng.NextBytes(bytes);
        return bytes.AsMemory(before, length);
    }

    /// <summary>No tag a third of the time, else a random one (0 included: tag 0 is not the same as no tag).</summary>
    public static byte? Tag(Random rng) => rng.Next(3) switch { 0 => null, 1 => 0, _ => (byte)rng.Next(256) };

    public static Hash32[] Level(Random rng, int count)
    {
        var level = new Hash32[count];
        var bytes = new byte[Hash32.Size];
        for (var i = 0; i < count; i++)
        {
            rng.NextBytes(bytes);
            level[i] = Hash32.FromBytes(bytes);
        }
        return level;
    }

    public static Hash32[] Digests(IAccelerator accelerator, IReadOnlyList<ReadOnlyMemory<byte>> messages, byte? tag)
    {
        var digests = new Hash32[messages.Count];
        accelerator.Sha256(messages, digests, tag);
        return digests;
    }

    public static Hash32[] NextLevel(IAccelerator accelerator, byte tag, Hash32[] level)
    {
        var next = new Hash32[(level.Length + 1) / 2];
        var written = accelerator.MerkleLevel(tag, level, next);
        Assert.Equal(next.Length, written);
        return next;
    }
}
