using Chain.Accel.Offload;
using Chain.Accel.OpenCL;

namespace Chain.Accel.Tests.OpenCl;

/// <summary>The OpenCL backend's contract beyond the hashes: capabilities, argument checks, threads, disposal, options.</summary>
[Collection(OpenClCollection.Name)]
public sealed class OpenClBackendTests(OpenClFixture fixture)
{
    [Fact]
    public void Capabilities_name_the_device_and_only_the_hashing_operations()
    {
        var caps = fixture.Accelerator.Capabilities;
        Assert.Equal("opencl", fixture.Accelerator.Name);
        Assert.Equal(AccelOps.Sha256 | AccelOps.MerkleLevel, caps.Supported);
        Assert.False(caps.Supports(AccelOps.Ed25519Verify));
        Assert.False(caps.Supports(AccelOps.AesGcm));
        Assert.Equal(64, caps.MinBatch);
        Assert.True(caps.PreferredBatch >= caps.MinBatch);
        Assert.Matches(@"^.+ \(.+\)$", caps.Device);
    }

    [Fact]
    public void Signature_checks_and_AES_GCM_run_on_the_reference()
    {
        using var key = SigningKey.FromSeed(Enumerable.Repeat((byte)3, 32).ToArray());
        var message = "hello"u8.ToArray();
        var signature = key.Sign(message);
        SignatureCheck[] checks = [new(key.PublicKey, message, signature), new(key.PublicKey, "other"u8.ToArray(), signature)];
        var results = new bool[2];
        fixture.Accelerator.VerifyEd25519(checks, results);
        Assert.Equal([true, false], results);

        var aesKey = new byte[32];
        var plain = "patient record"u8.ToArray();
        var sealedText = new byte[plain.Length];
        var tag = new byte[16];
        var nonce = new byte[12];
        fixture.Accelerator.SealAesGcm(aesKey, [new AeadItem(nonce, default, plain, sealedText, tag)]);
        var opened = new byte[plain.Length];
        var ok = new bool[1];
        fixture.Accelerator.OpenAesGcm(aesKey, [new AeadItem(nonce, default, sealedText, opened, tag)], ok);
        Assert.True(ok[0]);
        Assert.Equal(plain, opened);
    }

    [Fact]
    public void Mismatched_arguments_throw_ArgumentException()
    {
        Assert.Throws<ArgumentException>(() => fixture.Accelerator.Sha256([new byte[1]], new Hash32[2]));
        Assert.Throws<ArgumentException>(() => fixture.Accelerator.MerkleLevel(0, new Hash32[5], new Hash32[2]));
    }

    [Fact]
    public void Concurrent_callers_each_get_their_own_results()
    {
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            var rng = new Random(t);
            for (var round = 0; round < 5; round++)
            {
                var messages = Batches.Messages(rng, 150);
                var tag = Batches.Tag(rng);
                var expected = Batches.Digests(OpenClFixture.Reference, messages, tag);
                if (!Batches.Digests(fixture.Accelerator, messages, tag).SequenceEqual(expected))
                    failures.Add($"thread {t} round {round}: SHA-256 batch differs");
                var level = Batches.Level(rng, rng.Next(500));
                if (!Batches.NextLevel(fixture.Accelerator, 2, level).SequenceEqual(Batches.NextLevel(CpuAccelerator.Instance, 2, level)))
                    failures.Add($"thread {t} round {round}: Merkle level differs");
            }
        });
        Assert.Empty(failures);
    }

    [Fact]
    public void A_disposed_backend_refuses_work_and_may_be_disposed_again()
    {
        var accelerator = new OpenClAccelerator();
        accelerator.Dispose();
        accelerator.Dispose();
        Assert.Throws<ObjectDisposedException>(() => accelerator.Sha256([new byte[1]], new Hash32[1]));
        Assert.Throws<ObjectDisposedException>(() => accelerator.MerkleLevel(0, new Hash32[2], new Hash32[1]));
    }

    [Fact]
    public void The_factory_chooses_a_device_by_platform_and_device_name()
    {
        var device = fixture.Accelerator.Capabilities.Device;
        var platform = device[(device.LastIndexOf(" (", StringComparison.Ordinal) + 2)..^1];
        using var chosen = new OpenClAcceleratorFactory().Create(new Dictionary<string, string>
        {
            ["platform"] = platform.ToUpperInvariant(),
            ["device"] = device[..Math.Min(5, device.Length)],
        });
        Assert.Equal(device, chosen.Capabilities.Device);
    }

    [Fact]
    public void The_factory_refuses_an_unknown_option_and_a_device_that_is_not_there()
    {
        var factory = new OpenClAcceleratorFactory();
        Assert.Equal("opencl", factory.Name);
        var unknown = Assert.Throws<AcceleratorLoadException>(() =>
            factory.Create(new Dictionary<string, string> { ["devise"] = "x" }));
        Assert.Contains("unknown option 'devise'", unknown.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<AcceleratorLoadException>(() =>
            factory.Create(new Dictionary<string, string> { ["device"] = "no such device 1f2e" }));
        Assert.Contains("no device matches", missing.Message, StringComparison.Ordinal);
        Assert.Contains(fixture.Accelerator.Capabilities.Device.Split(" (")[0], missing.Message, StringComparison.Ordinal);
    }
}
