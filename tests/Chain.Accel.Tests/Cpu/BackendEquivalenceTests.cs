using Chain.Accel.Offload;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Accel.Tests.Cpu;

/// <summary>
/// Every backend gives bit-identical results to the CPU reference, and the reference agrees with the platform's own
/// SHA-256 and the tree rule written out by hand. Each property takes a seed; a failure prints it (and FsCheck's
/// Replay), and the same seed rebuilds the same batch.
/// </summary>
public sealed class BackendEquivalenceTests : IDisposable
{
    private static readonly SigningKey[] Keys = [.. Enumerable.Range(1, 4).Select(i => SigningKey.FromSeed(Enumerable.Repeat((byte)i, 32).ToArray()))];

    private readonly CpuAccelerator _reference = CpuAccelerator.Instance;
    // Small inline threshold so even small batches take the parallel path.
    private readonly ParallelCpuAccelerator _parallel = new(workers: 3, minParallelItems: 2);

    public void Dispose() => _parallel.Dispose();

    private static Gen<int> Sizes => Gen.OneOf(Gen.Elements(0, 1, 2, 3), Gen.Choose(0, 700));

    [Property(MaxTest = 60)]
    public Property Batch_sha256_matches_the_reference_and_the_platform() =>
        Prop.ForAll(Arb.From(Sizes), Arb.From(Gen.Choose(0, int.MaxValue)), Arb.From(Gen.Elements<byte?>(null, 0x00, 0x12, 0xff)),
            (count, seed, tag) =>
            {
                var messages = TestData.Messages(new Random(seed), count);
                var expected = new Hash32[count];
                var actual = new Hash32[count];
                _reference.Sha256(messages, expected, tag);
                _parallel.Sha256(messages, actual, tag);
                for (var i = 0; i < count; i++)
                {
                    Assert.True(expected[i] == TestData.Sha256(messages[i].Span, tag), $"seed {seed}: reference digest {i} is wrong");
                    Assert.True(expected[i] == actual[i], $"seed {seed}: cpu-parallel digest {i} of {count} differs");
                }
            });

    [Fact]
    public void Large_messages_hash_the_same_split_across_cores()
    {
        var rng = new Random(7);
        var messages = Enumerable.Range(0, 5).Select(i =>
        {
            var m = new byte[(1 << 20) + i * 13];
            rng.NextBytes(m);
            return (ReadOnlyMemory<byte>)m;
        }).ToList();
        var expected = new Hash32[5];
        var actual = new Hash32[5];
        _reference.Sha256(messages, expected);
        new ParallelCpuAccelerator().Sha256(messages, actual);
        Assert.Equal(expected, actual);
        Assert.Equal(TestData.Sha256(messages[4].Span, null), actual[4]);
    }

    [Property(MaxTest = 80)]
    public Property A_merkle_level_matches_the_reference_and_the_rule() =>
        Prop.ForAll(Arb.From(Sizes), Arb.From(Gen.Choose(0, int.MaxValue)), (count, seed) =>
        {
            var level = TestData.Hashes(new Random(seed), count);
            var expected = new Hash32[(count + 1) / 2];
            var actual = new Hash32[(count + 1) / 2];
            Assert.Equal(expected.Length, _reference.MerkleLevel(0x01, level, expected));
            Assert.Equal(actual.Length, _parallel.MerkleLevel(0x01, level, actual));
            for (var i = 0; i < expected.Length; i++)
            {
                var rule = 2 * i + 1 < count ? Hashing.Tagged(0x01, level[2 * i], level[2 * i + 1]) : level[2 * i];
                Assert.True(rule == expected[i], $"seed {seed}: reference node {i} of a level of {count} breaks the rule");
                Assert.True(expected[i] == actual[i], $"seed {seed}: cpu-parallel node {i} of a level of {count} differs");
            }
        });

    [Property(MaxTest = 30)]
    public Property Batch_ed25519_matches_the_reference_and_the_truth() =>
        Prop.ForAll(Arb.From(Gen.OneOf(Gen.Elements(0, 1, 2), Gen.Choose(0, 300))), Arb.From(Gen.Choose(0, int.MaxValue)), (count, seed) =>
        {
            var (checks, truth) = TestData.Signatures(new Random(seed), count, Keys);
            var expected = new bool[count];
            var actual = new bool[count];
            _reference.VerifyEd25519(checks, expected);
            _parallel.VerifyEd25519(checks, actual);
            for (var i = 0; i < count; i++)
            {
                Assert.True(truth[i] == expected[i], $"seed {seed}: reference verdict {i} is {expected[i]}, should be {truth[i]}");
                Assert.True(expected[i] == actual[i], $"seed {seed}: cpu-parallel verdict {i} of {count} differs");
            }
        });

    [Property(MaxTest = 30)]
    public Property Bulk_aes_gcm_matches_the_reference_and_round_trips() =>
        Prop.ForAll(Arb.From(Gen.OneOf(Gen.Elements(0, 1, 2), Gen.Choose(0, 40))), Arb.From(Gen.Choose(0, int.MaxValue)), (count, seed) =>
        {
            var rng = new Random(seed);
            var key = TestData.Key(rng);
            var items = TestData.AeadItems(rng, count);
            var twins = items.Select(i => i with { Output = new byte[i.Input.Length], Tag = new byte[16] }).ToArray();
            _reference.SealAesGcm(key, items);
            _parallel.SealAesGcm(key, twins);
            for (var i = 0; i < count; i++)
            {
                Assert.True(items[i].Output.Span.SequenceEqual(twins[i].Output.Span), $"seed {seed}: ciphertext {i} differs");
                Assert.True(items[i].Tag.Span.SequenceEqual(twins[i].Tag.Span), $"seed {seed}: tag {i} differs");
            }
            // Open every sealed item with the parallel backend; tamper with some first.
            var opened = items.Select(i => new AeadItem(i.Nonce, i.AssociatedData, i.Output, new byte[i.Input.Length], i.Tag)).ToArray();
            var tampered = new bool[count];
            for (var i = 0; i < count; i++)
            {
                if (rng.Next(3) != 0) continue;
                tampered[i] = true;
                var ct = opened[i].Input.ToArray();
                var tag = opened[i].Tag.ToArray();
                if (ct.Length > 0 && rng.Next(2) == 0) ct[rng.Next(ct.Length)] ^= 1;
                else tag[rng.Next(16)] ^= 0x80;
                opened[i] = opened[i] with { Input = ct, Tag = tag };
            }
            var ok = new bool[count];
            _parallel.OpenAesGcm(key, opened, ok);
            for (var i = 0; i < count; i++)
            {
                Assert.True(ok[i] == !tampered[i], $"seed {seed}: item {i} opened={ok[i]}, tampered={tampered[i]}");
                if (ok[i]) Assert.True(opened[i].Output.Span.SequenceEqual(items[i].Input.Span), $"seed {seed}: item {i} did not round-trip");
                else Assert.True(opened[i].Output.Span.IndexOfAnyExcept((byte)0) < 0, $"seed {seed}: item {i} left plaintext behind");
            }
        });

    [Fact]
    public void Misuse_is_refused_the_same_way_by_every_backend()
    {
        IAccelerator[] backends = [_reference, _parallel, new CheckedAccelerator(_parallel)];
        foreach (var b in backends)
        {
            Assert.Throws<ArgumentException>(() => b.Sha256([new byte[1], new byte[2]], new Hash32[1]));
            Assert.Throws<ArgumentException>(() => b.MerkleLevel(1, new Hash32[5], new Hash32[2]));
            Assert.Throws<ArgumentException>(() => b.VerifyEd25519(new SignatureCheck[2], new bool[1]));
            Assert.Throws<ArgumentException>(() => b.SealAesGcm(new byte[31], []));
            Assert.Throws<ArgumentException>(() => b.SealAesGcm(new byte[32], [new AeadItem(new byte[11], default, new byte[4], new byte[4], new byte[16])]));
            Assert.Throws<ArgumentException>(() => b.SealAesGcm(new byte[32], [new AeadItem(new byte[12], default, new byte[4], new byte[3], new byte[16])]));
            Assert.Throws<ArgumentException>(() => b.OpenAesGcm(new byte[32], [new AeadItem(new byte[12], default, new byte[4], new byte[4], new byte[15])], new bool[1]));
        }
    }
}
