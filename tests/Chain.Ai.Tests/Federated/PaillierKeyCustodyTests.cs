using System.Diagnostics;
using Chain.Ai.Federated;
using Chain.Ai.OnChain;
using Chain.Ai.Tests.OnChain;
using Chain.Client;
using Chain.Client.Custody;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>
/// The Paillier decryption key under share custody: the key encoding (strict, checked against the public key), and on a
/// real 4-node testnet (<see cref="LocalTestnet"/>, base port 27400) the key sealed 3-of-4 by one hospital, refused to
/// the requester before three approvals and to everyone else, then opened after the third and matching the public key the
/// clients encrypted with, which decrypts the clients' encrypted sum.
/// </summary>
public sealed class PaillierKeyCustodyTests(ITestOutputHelper output) : IDisposable
{
    private const int BasePort = 27400;
    private static readonly string[] Hospitals = [.. Enumerable.Range(0, 4).Select(LocalTestnet.Hospital)];

    private readonly string _dir = Directory.CreateTempSubdirectory("chain-ai-paillier-custody-").FullName;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Log(string line)
    {
        try
        {
            output.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:0.0}s] {line}");
        }
        catch (InvalidOperationException)
        {
            // the test has finished
        }
    }

    [Fact]
    public void The_key_encoding_round_trips_and_refuses_other_keys_and_malformed_bytes()
    {
        var keys = PaillierTestKeys.Small.Value;
        var bytes = PaillierKeyCustody.EncodePrivateKey(keys);
        var back = PaillierKeyCustody.DecodePrivateKey(bytes, keys.PublicKey);
        Assert.Equal((keys.PrivateKey.P, keys.PrivateKey.Q), (back.PrivateKey.P, back.PrivateKey.Q));
        var m = new System.Numerics.BigInteger(123456789);
        Assert.Equal(m, back.PrivateKey.Decrypt(keys.PublicKey.Encrypt(m)));

        PaillierError Decode(byte[] b, PaillierPublicKey? expected = null) =>
            Assert.Throws<PaillierException>(() => PaillierKeyCustody.DecodePrivateKey(b, expected ?? keys.PublicKey)).Error;
        Assert.Equal(PaillierError.WrongKey, Decode(bytes, PaillierTestKeys.Medium.Value.PublicKey));
        Assert.Equal(PaillierError.WrongKey, Decode(PaillierKeyCustody.EncodePrivateKey(PaillierKeyPair.Generate(512, new SeededRng(99)))));
        Assert.Equal(PaillierError.Truncated, Decode([]));
        Assert.Equal(PaillierError.Truncated, Decode(bytes[..^1]));
        Assert.Equal(PaillierError.Truncated, Decode(bytes[..20]));
        Assert.Equal(PaillierError.Malformed, Decode([.. bytes, 0]));
        var badMagic = (byte[])bytes.Clone();
        badMagic[1] ^= 1;
        Assert.Equal(PaillierError.Malformed, Decode(badMagic));
        var hugeLength = (byte[])bytes.Clone();
        hugeLength[9] = 0x7F;
        Assert.Equal(PaillierError.Malformed, Decode(hugeLength));
        var flipped = (byte[])bytes.Clone();
        flipped[20] ^= 0x10; // inside p: p·q no longer equals n
        Assert.Equal(PaillierError.WrongKey, Decode(flipped));
    }

    [Fact]
    [Trait("Category", "Cluster")]
    public async Task The_key_sealed_3_of_4_opens_only_after_three_approvals_and_matches_the_clients_public_key()
    {
        const int seed = 9105; // not PaillierTestKeys' seed: the wrong-key check below opens against that key
        Log($"seed {seed}; testnet base port {BasePort}");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(200));
        var ct = cancel.Token;
        var keyPair = PaillierKeyPair.Generate(512, new SeededRng(seed));
        var publicKey = keyPair.PublicKey; // what the clients hold

        // The clients encrypt their updates with the public key; the aggregator sums them.
        var packer = new PaillierPacker(publicKey, fractionalBits: 20, slotBits: 32, maxAddends: 4);
        var encryptor = new PaillierEncryptor(publicKey);
        var random = new Random(seed);
        var updates = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 40).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray()).ToList();
        var sum = PaillierVector.Sum([.. updates.Select(u => PaillierVector.Encrypt(encryptor, packer, u))]);

        await using var net = await LocalTestnet.StartAsync(BasePort, Log, ct);
        Log("testnet up");
        var apps = Enumerable.Range(0, 4).Select(i => net.Client($"{Hospitals[i]}-app", i)).ToArray();
        var chainId = (await apps[0].StatusAsync(ct)).ChainId;
        var custodyKeys = Hospitals.Select(_ => CustodyKeyPair.Create()).ToArray();
        try
        {
            var vaults = Enumerable.Range(0, 4).Select(i => new WeightsVault(apps[i], chainId, Hospitals[i], custodyKeys[i])).ToArray();
            var registered = await Task.WhenAll(vaults.Select(v => v.RegisterKeyAsync(ct)));
            await LedgerSync.WaitForHeightAsync(apps[0], registered.Max(r => r.Height), TimeSpan.FromSeconds(30), ct);

            // Hospital-a generated the key pair and seals the private key 3-of-4 (it should then drop its copy).
            const string custodyId = "fl-round-1-paillier";
            var encrypted = Path.Combine(_dir, "paillier.key.enc");
            var sealedKey = await PaillierKeyCustody.SealAsync(vaults[0], keyPair, encrypted, custodyId, 3, Hospitals, ct);
            Assert.Equal(Convert.ToHexStringLower(PaillierVector.KeyFingerprint(publicKey)), sealedKey.PublicKeyFingerprint);
            Assert.Equal((3, 512), (sealedKey.Vault.Threshold, sealedKey.Bits));
            Assert.True(File.Exists(encrypted));
            Log($"private key sealed as {custodyId} at height {sealedKey.Vault.DealHeight}");
            var acks = await Task.WhenAll(vaults.Select(async (v, i) =>
            {
                await LedgerSync.WaitForHeightAsync(apps[i], sealedKey.Vault.DealHeight, TimeSpan.FromSeconds(30), ct);
                return await v.AcknowledgeAsync(custodyId, ct);
            }));
            Assert.All(acks, a => Assert.True(a.Valid));

            // Hospital-b (the aggregator's decryptor) asks for the key: nothing opens before three approvals.
            var requested = await vaults[1].RequestReleaseAsync(custodyId, "release-1", ct);
            await LedgerSync.WaitForHeightAsync(apps[1], requested.Height, TimeSpan.FromSeconds(30), ct);
            await Assert.ThrowsAsync<CustodyException>(() => PaillierKeyCustody.OpenAsync(vaults[1], custodyId, "release-1", encrypted, publicKey, ct));
            SubmitResult last = requested;
            foreach (var i in new[] { 2, 3 })
            {
                await LedgerSync.WaitForHeightAsync(apps[i], requested.Height, TimeSpan.FromSeconds(30), ct);
                last = await vaults[i].ApproveReleaseAsync(custodyId, "release-1", ct);
            }
            await LedgerSync.WaitForHeightAsync(apps[1], last.Height, TimeSpan.FromSeconds(30), ct);
            var early = await Assert.ThrowsAsync<CustodyException>(() =>
                PaillierKeyCustody.OpenAsync(vaults[1], custodyId, "release-1", encrypted, publicKey, ct));
            Log($"two approvals: refused ({early.Message})");
            Assert.Contains("2 verified share(s), 3 are needed", early.Message, StringComparison.Ordinal);

            last = await vaults[0].ApproveReleaseAsync(custodyId, "release-1", ct);
            await LedgerSync.WaitForHeightAsync(apps[1], last.Height, TimeSpan.FromSeconds(30), ct);
            await LedgerSync.WaitForHeightAsync(apps[2], last.Height, TimeSpan.FromSeconds(30), ct);
            // The approvals are sealed to hospital-b's custody key: another hospital cannot use them.
            await Assert.ThrowsAsync<CustodyException>(() => PaillierKeyCustody.OpenAsync(vaults[2], custodyId, "release-1", encrypted, publicKey, ct));

            var opened = await PaillierKeyCustody.OpenAsync(vaults[1], custodyId, "release-1", encrypted, publicKey, ct);
            Assert.Equal(publicKey.N, opened.PublicKey.N);
            var decrypted = sum.Decrypt(new PaillierDecryptor(opened.PrivateKey));
            for (var i = 0; i < 40; i++)
                Assert.True(Math.Abs(decrypted[i] - updates.Sum(u => (double)u[i])) <= 3 * packer.Resolution, $"value {i}");
            Log("three approvals: the key opened, matches the clients' public key and decrypts their sum");

            // Opened against another public key (the clients used a different one): refused, typed.
            var wrong = await Assert.ThrowsAsync<PaillierException>(() =>
                PaillierKeyCustody.OpenAsync(vaults[1], custodyId, "release-1", encrypted, PaillierTestKeys.Small.Value.PublicKey, ct));
            Assert.Equal(PaillierError.WrongKey, wrong.Error);
            Assert.Empty(Directory.EnumerateDirectories(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), "chain-ai-paillier-*"));
        }
        finally
        {
            foreach (var k in custodyKeys) k.Dispose();
        }
    }
}
