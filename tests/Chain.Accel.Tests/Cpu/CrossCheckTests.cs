using Chain.Accel.Offload;

namespace Chain.Accel.Tests.Cpu;

/// <summary>A deliberately faulty backend: correct until <see cref="FailFromBatch"/>, then wrong on chosen items of the chosen operation.</summary>
internal sealed class FaultyAccelerator(AccelOps faultyOp, int failFromBatch, Func<int, int, bool> corrupt, bool throwInstead = false) : IAccelerator
{
    private readonly CpuAccelerator _inner = CpuAccelerator.Instance;
    private int _batches;

    public int FailFromBatch => failFromBatch;

    public int Calls;

    public string Name => "faulty";

    public AcceleratorCapabilities Capabilities { get; init; } = new(AccelOps.All, 1, 64, "a card with a bad memory cell");

    private bool Broken(AccelOps op)
    {
        Calls++;
        if (op != faultyOp || ++_batches < failFromBatch) return false;
        if (throwInstead) throw new InvalidOperationException("device lost");
        return true;
    }

    public void Sha256(IReadOnlyList<ReadOnlyMemory<byte>> messages, Span<Hash32> digests, byte? tag = null)
    {
        _inner.Sha256(messages, digests, tag);
        if (!Broken(AccelOps.Sha256)) return;
        for (var i = 0; i < digests.Length; i++)
        {
            if (corrupt(i, digests.Length)) digests[i] = Hashing.Sha256(digests[i].ToArray());
        }
    }

    public int MerkleLevel(byte tag, ReadOnlySpan<Hash32> level, Span<Hash32> next)
    {
        var count = _inner.MerkleLevel(tag, level, next);
        if (!Broken(AccelOps.MerkleLevel)) return count;
        for (var i = 0; i < count; i++)
        {
            if (corrupt(i, count)) next[i] = Hash32.Zero;
        }
        return count;
    }

    public void VerifyEd25519(ReadOnlySpan<SignatureCheck> checks, Span<bool> results)
    {
        _inner.VerifyEd25519(checks, results);
        if (!Broken(AccelOps.Ed25519Verify)) return;
        // The dangerous fault: forged signatures judged valid.
        for (var i = 0; i < results.Length; i++)
        {
            if (corrupt(i, results.Length)) results[i] = true;
        }
    }

    public void SealAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items)
    {
        _inner.SealAesGcm(key, items);
        if (!Broken(AccelOps.AesGcm)) return;
        for (var i = 0; i < items.Length; i++)
        {
            if (corrupt(i, items.Length) && items[i].Output.Length > 0) items[i].Output.Span[0] ^= 1;
        }
    }

    public void OpenAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items, Span<bool> results)
    {
        _inner.OpenAesGcm(key, items, results);
        if (!Broken(AccelOps.AesGcm)) return;
        for (var i = 0; i < items.Length; i++)
        {
            if (corrupt(i, items.Length)) results[i] = !results[i];
        }
    }

    public void Dispose()
    {
    }
}

public sealed class CrossCheckTests
{
    private static readonly SigningKey[] Keys = [SigningKey.FromSeed(new byte[32]), SigningKey.FromSeed(Enumerable.Repeat((byte)9, 32).ToArray())];

    [Fact]
    public void A_wrong_digest_is_caught_the_backend_disabled_and_the_batch_redone_on_the_cpu()
    {
        var faulty = new FaultyAccelerator(AccelOps.Sha256, failFromBatch: 3, corrupt: (i, _) => i == 5);
        using var watched = new CheckedAccelerator(faulty);
        var faults = new List<AcceleratorFault>();
        watched.Faulted += faults.Add;
        var rng = new Random(11);
        for (var batch = 0; batch < 6; batch++)
        {
            var messages = TestData.Messages(rng, 40);
            var digests = new Hash32[40];
            watched.Sha256(messages, digests, 0x12);
            var expected = new Hash32[40];
            CpuAccelerator.Instance.Sha256(messages, expected, 0x12);
            Assert.Equal(expected, digests); // never a wrong result out, even in the batch that was caught
        }
        Assert.True(watched.Disabled);
        var fault = Assert.Single(faults);
        Assert.Equal("faulty", fault.Backend);
        Assert.Equal(AccelOps.Sha256, fault.Operation);
        Assert.Contains("message 5", fault.Detail, StringComparison.Ordinal);
        Assert.Equal(1, watched.Stats.FaultCount);
        // After the fault nothing more goes to the backend.
        Assert.Equal(3, faulty.Calls);
        Assert.Equal(3, watched.Stats.BatchesOnReference);
        Assert.Equal(watched.Capabilities, CpuAccelerator.Instance.Capabilities);
    }

    [Fact]
    public void Forged_signatures_judged_valid_are_caught_and_judged_again()
    {
        var faulty = new FaultyAccelerator(AccelOps.Ed25519Verify, failFromBatch: 1, corrupt: (_, _) => true);
        using var watched = new CheckedAccelerator(faulty);
        var (checks, truth) = TestData.Signatures(new Random(3), 64, Keys);
        Assert.Contains(false, truth);
        var results = new bool[64];
        watched.VerifyEd25519(checks, results);
        Assert.Equal(truth, results);
        Assert.True(watched.Disabled);
        Assert.Equal(AccelOps.Ed25519Verify, watched.Fault!.Operation);
    }

    [Fact]
    public void A_wrong_merkle_node_and_a_dropped_odd_node_are_caught()
    {
        var faulty = new FaultyAccelerator(AccelOps.MerkleLevel, failFromBatch: 1, corrupt: (i, n) => i == n - 1);
        using var watched = new CheckedAccelerator(faulty);
        var level = TestData.Hashes(new Random(5), 9);
        var next = new Hash32[5];
        Assert.Equal(5, watched.MerkleLevel(1, level, next));
        var expected = new Hash32[5];
        CpuAccelerator.Instance.MerkleLevel(1, level, expected);
        Assert.Equal(expected, next);
        Assert.Contains("odd last node", watched.Fault!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_ciphertext_and_wrong_open_verdicts_are_caught()
    {
        var rng = new Random(8);
        var key = TestData.Key(rng);
        var sealer = new CheckedAccelerator(new FaultyAccelerator(AccelOps.AesGcm, 1, (i, _) => i == 2));
        var items = TestData.AeadItems(rng, 4, 100).Select(i => i with { Input = new byte[50] }).Select(i => i with { Output = new byte[50] }).ToArray();
        sealer.SealAesGcm(key, items);
        Assert.True(sealer.Disabled);
        var check = items.Select(i => i with { Output = new byte[50], Tag = new byte[16] }).ToArray();
        CpuAccelerator.Instance.SealAesGcm(key, check);
        for (var i = 0; i < 4; i++) Assert.True(check[i].Output.Span.SequenceEqual(items[i].Output.Span));

        var opener = new CheckedAccelerator(new FaultyAccelerator(AccelOps.AesGcm, 1, (i, _) => i == 1));
        var open = items.Select(i => new AeadItem(i.Nonce, i.AssociatedData, i.Output, new byte[50], i.Tag)).ToArray();
        var ok = new bool[4];
        opener.OpenAesGcm(key, open, ok);
        Assert.All(ok, Assert.True);
        Assert.True(opener.Disabled);
    }

    [Fact]
    public void A_backend_that_throws_is_disabled_and_the_work_done_on_the_cpu()
    {
        using var watched = new CheckedAccelerator(new FaultyAccelerator(AccelOps.Sha256, 2, (_, _) => false, throwInstead: true));
        var messages = TestData.Messages(new Random(1), 10);
        var digests = new Hash32[10];
        watched.Sha256(messages, digests);
        Assert.False(watched.Disabled);
        watched.Sha256(messages, digests);
        Assert.True(watched.Disabled);
        Assert.Contains("device lost", watched.Fault!.Detail, StringComparison.Ordinal);
        Assert.Equal(TestData.Sha256(messages[9].Span, null), digests[9]);
    }

    [Fact]
    public void After_the_full_check_window_a_sample_still_catches_a_backend_that_goes_bad()
    {
        // Goes wrong on every item from the 40th batch: far past the 16 fully checked batches.
        var faulty = new FaultyAccelerator(AccelOps.Sha256, 40, (_, _) => true);
        using var watched = new CheckedAccelerator(faulty, policy: new CrossCheckPolicy { FullCheckBatches = 16, SampleItems = 2 });
        var rng = new Random(2);
        for (var batch = 0; batch < 45 && !watched.Disabled; batch++)
        {
            var messages = TestData.Messages(rng, 100);
            watched.Sha256(messages, new Hash32[100]);
        }
        Assert.True(watched.Disabled);
        Assert.Equal(40, faulty.Calls);
        // 16 full batches of 100, then 2 sampled items in each of the next 24.
        Assert.Equal(16 * 100 + 24 * 2, watched.Stats.ItemsCrossChecked);
    }

    [Fact]
    public void Small_batches_are_sampled_at_the_configured_rate_and_a_fault_in_them_is_still_caught()
    {
        var healthy = new CheckedAccelerator(new ParallelCpuAccelerator(), policy: new CrossCheckPolicy { FullCheckBatches = 4, SampleOneIn = 64, SampleItems = 1 });
        var message = new List<ReadOnlyMemory<byte>> { new byte[10] };
        for (var i = 0; i < 4 + 6400; i++) healthy.Sha256(message, new Hash32[1]);
        // 4 batches in full, then one single-item batch in 64.
        Assert.Equal(4 + 100, healthy.Stats.ItemsCrossChecked);

        var faulty = new FaultyAccelerator(AccelOps.Sha256, 1, (_, _) => true);
        using var watched = new CheckedAccelerator(faulty, policy: new CrossCheckPolicy { FullCheckBatches = 0, SampleOneIn = 64 });
        for (var i = 0; i < 64 && !watched.Disabled; i++) watched.Sha256(message, new Hash32[1]);
        Assert.True(watched.Disabled);
        Assert.Equal(64, faulty.Calls);
    }

    [Fact]
    public void A_fault_in_only_the_last_item_is_caught_by_the_sample()
    {
        var faulty = new FaultyAccelerator(AccelOps.Sha256, 1, (i, n) => i == n - 1);
        using var watched = new CheckedAccelerator(faulty, policy: new CrossCheckPolicy { FullCheckBatches = 0, SampleItems = 1 });
        watched.Sha256(TestData.Messages(new Random(4), 77), new Hash32[77]);
        Assert.True(watched.Disabled);
    }

    [Fact]
    public void Unsupported_operations_and_small_batches_go_to_the_reference()
    {
        var faulty = new FaultyAccelerator(AccelOps.Ed25519Verify, 1, (_, _) => true)
        {
            Capabilities = new AcceleratorCapabilities(AccelOps.Sha256 | AccelOps.MerkleLevel, MinBatch: 8, PreferredBatch: 64, "hash only"),
        };
        using var watched = new CheckedAccelerator(faulty);
        var (checks, truth) = TestData.Signatures(new Random(6), 20, Keys);
        var results = new bool[20];
        watched.VerifyEd25519(checks, results);
        Assert.Equal(truth, results);
        watched.Sha256(TestData.Messages(new Random(6), 7), new Hash32[7]); // below MinBatch
        watched.Sha256(TestData.Messages(new Random(6), 8), new Hash32[8]);
        Assert.False(watched.Disabled);
        Assert.Equal(1, faulty.Calls);
        Assert.Equal(2, watched.Stats.BatchesOnReference);
        Assert.Equal(1, watched.Stats.BatchesOffloaded);
    }

    [Fact]
    public void Concurrent_callers_get_correct_results_while_a_backend_is_caught()
    {
        var faulty = new FaultyAccelerator(AccelOps.Sha256, 20, (_, _) => true);
        // Every item checked (SampleOneIn = 1), so no wrong digest can escape whichever thread meets the fault first.
        using var watched = new CheckedAccelerator(faulty, policy: new CrossCheckPolicy { SampleOneIn = 1 });
        var faults = 0;
        watched.Faulted += _ => Interlocked.Increment(ref faults);
        Parallel.For(0, 8, t =>
        {
            var rng = new Random(t);
            for (var b = 0; b < 20; b++)
            {
                var messages = TestData.Messages(rng, 30);
                var digests = new Hash32[30];
                watched.Sha256(messages, digests);
                for (var i = 0; i < 30; i++) Assert.Equal(TestData.Sha256(messages[i].Span, null), digests[i]);
            }
        });
        Assert.True(watched.Disabled);
        Assert.Equal(1, faults);
    }
}
