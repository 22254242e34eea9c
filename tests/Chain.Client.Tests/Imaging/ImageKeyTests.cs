using Chain.Accel;
using Chain.Accel.Offload;
using Chain.Client.Custody;
using Chain.Client.Imaging;

namespace Chain.Client.Tests.Imaging;

/// <summary>Image key files, and image keys released through the real custody contract.</summary>
public sealed class ImageKeyTests : IDisposable
{
    private const string Custody = "imaging-key";
    private static readonly string[] Orgs = ["hospital-a", "hospital-b", "hospital-c", "hospital-d"];

    private readonly string _dir = Directory.CreateTempSubdirectory("chain-image-keys-").FullName;
    private readonly ImageCipher _cipher = new(CpuAccelerator.Instance);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Path(string name) => System.IO.Path.Combine(_dir, name);

    [Fact]
    public void A_generated_key_file_is_owner_only_loads_back_and_decrypts()
    {
        var path = Path("image.key");
        using var key = ImageKeyFile.Generate(path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Matches("^[0-9a-f]{32}$", key.Fingerprint);
        using var loaded = ImageKeyFile.Load(path);
        Assert.Equal(key.Fingerprint, loaded.Fingerprint);
        Assert.Equal(ImageKeyKind.KeyFile, loaded.Source.Kind);
        var plain = ImageRoundTripTests.Data(100_000, 1);
        var file = ImageRoundTripTests.Encrypt(_cipher, key, plain);
        Assert.Equal(plain, ImageRoundTripTests.Decrypt(_cipher, loaded, file));
        // The file holds the key (hex) and its fingerprint, nothing else.
        var text = File.ReadAllText(path);
        Assert.Contains("chain-image-key", text, StringComparison.Ordinal);
        Assert.Contains(key.Fingerprint, text, StringComparison.Ordinal);
    }

    [Fact]
    public void Keygen_never_overwrites()
    {
        var path = Path("taken.key");
        using var first = ImageKeyFile.Generate(path);
        var before = File.ReadAllText(path);
        var e = Assert.Throws<ImageCipherException>(() => ImageKeyFile.Generate(path));
        Assert.Equal(ImageError.BadKeyFile, e.Error);
        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllText(path));
        File.WriteAllText(Path("other.txt"), "not a key");
        Assert.Throws<ImageCipherException>(() => ImageKeyFile.Generate(Path("other.txt")));
        Assert.Equal("not a key", File.ReadAllText(Path("other.txt")));
        Assert.Contains("cannot write", Assert.Throws<ImageCipherException>(() => ImageKeyFile.Generate(Path("no/dir/k.key"))).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_key_files_are_refused_with_a_reason()
    {
        static string Reason(string path) => Assert.Throws<ImageCipherException>(() => ImageKeyFile.Load(path)).Message;
        Assert.Contains("does not exist", Reason(Path("missing.key")), StringComparison.Ordinal);

        var open = Path("open.key");
        using (ImageKeyFile.Generate(open)) File.SetUnixFileMode(open, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        Assert.Contains("chmod 600", Reason(open), StringComparison.Ordinal);

        string Write(string name, string json)
        {
            var p = Path(name);
            File.WriteAllText(p, json);
            File.SetUnixFileMode(p, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            return p;
        }
        Assert.Contains("not an image key file", Reason(Write("garbage.key", "garbage")), StringComparison.Ordinal);
        Assert.Contains("kind", Reason(Write("kind.key", """{"kind":"chain-ed25519-key","fingerprint":"00","key":"00"}""")), StringComparison.Ordinal);
        Assert.Contains("not hex", Reason(Write("hex.key", """{"kind":"chain-image-key","fingerprint":"00","key":"zz"}""")), StringComparison.Ordinal);
        Assert.Contains("32 bytes", Reason(Write("short.key", """{"kind":"chain-image-key","fingerprint":"00","key":"0011"}""")), StringComparison.Ordinal);
        var wrong = $$"""{"kind":"chain-image-key","fingerprint":"{{new string('0', 32)}}","key":"{{new string('1', 64)}}"}""";
        Assert.Contains("fingerprint does not match", Reason(Write("fp.key", wrong)), StringComparison.Ordinal);
    }

    [Fact]
    public void A_disposed_key_cannot_be_used()
    {
        var key = ImageKey.Create();
        key.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ImageRoundTripTests.Encrypt(_cipher, key, [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => ImageKey.FromBytes(new byte[31], ImageKeySource.KeyFile));
    }

    [Fact]
    public void Released_secrets_give_keys_bound_to_chain_and_custody_id()
    {
        var secret = Dealer.NewSecret();
        using var a = CustodyImageKey.FromReleasedSecret(secret, ImageKeySource.Custody("chain", "k1", 0, "r1"));
        using var sameOtherRequest = CustodyImageKey.FromReleasedSecret(secret, ImageKeySource.Custody("chain", "k1", 3, "r9"));
        using var otherId = CustodyImageKey.FromReleasedSecret(secret, ImageKeySource.Custody("chain", "k2", 0, "r1"));
        using var otherChain = CustodyImageKey.FromReleasedSecret(secret, ImageKeySource.Custody("chain2", "k1", 0, "r1"));
        Assert.Equal(a.Fingerprint, sameOtherRequest.Fingerprint);
        Assert.NotEqual(a.Fingerprint, otherId.Fingerprint);
        Assert.NotEqual(a.Fingerprint, otherChain.Fingerprint);
        using var raw = ImageKey.FromBytes(secret, ImageKeySource.KeyFile);
        Assert.NotEqual(a.Fingerprint, raw.Fingerprint);
    }

    /// <summary>
    /// The whole path on the real custody contract: a key dealt 3-of-4, released to hospital-b, encrypts an image; the
    /// header names the custody record; hospital-c gets its own release of the same secret and decrypts it; another
    /// custody id or a key file is refused as the wrong key before any chunk.
    /// </summary>
    [Fact]
    public async Task An_image_encrypted_under_a_custody_released_key_decrypts_with_another_release()
    {
        using var ledger = new LedgerFixture();
        var signers = new Dictionary<string, SigningKey>
        {
            ["hospital-a"] = LedgerFixture.A, ["hospital-b"] = LedgerFixture.B, ["hospital-c"] = LedgerFixture.C, ["hospital-d"] = LedgerFixture.D,
        };
        var custodyKeys = Orgs.ToDictionary(o => o, _ => CustodyKeyPair.Create());
        ulong nonce = 5_000_000;
        void Ok(string org, CustodyCall call)
        {
            var outcome = ledger.Run(call.ToTransaction(LedgerFixture.ChainId, ++nonce, signers[org]));
            Assert.True(outcome.Success, $"{org} {call}: {outcome.Error}");
        }
        try
        {
            foreach (var org in Orgs) Ok(org, CustodyCall.RegisterKey(custodyKeys[org]));
            var registered = Orgs.Select(o => new CustodianKey(o, custodyKeys[o].PublicKeyHex)).ToList();
            var secret = Dealer.NewSecret();
            Ok("hospital-a", Dealer.PrepareDeal(LedgerFixture.ChainId, Custody, secret, 3, registered));
            foreach (var org in Orgs) Ok(org, (await new Custodian(LedgerFixture.ChainId, org, custodyKeys[org]).OpenCurrentAsync(ledger.Reader, Custody)).Call);

            async Task Release(string requester, string request, CustodyKeyPair key, params string[] approvers)
            {
                Ok(requester, CustodyCall.Request(Custody, request, key.PublicKeyHex));
                foreach (var org in approvers)
                    Ok(org, await new Custodian(LedgerFixture.ChainId, org, custodyKeys[org]).ApproveAsync(ledger.Reader, Custody, request));
            }
            using var bKey = CustodyKeyPair.Create();
            using var cKey = CustodyKeyPair.Create();
            await Release("hospital-b", "img-b", bKey, "hospital-a", "hospital-c", "hospital-d");
            await Release("hospital-c", "img-c", cKey, "hospital-a", "hospital-b", "hospital-d");

            using var encryptKey = await CustodyImageKey.ReleaseAsync(ledger.Reader, LedgerFixture.ChainId, Custody, "img-b", bKey);
            Assert.Equal(ImageKeySource.Custody(LedgerFixture.ChainId, Custody, 0, "img-b"), encryptKey.Source);
            var plain = ImageRoundTripTests.Data(3 * ImageHeader.MinChunkSize + 99, 77);
            var file = ImageRoundTripTests.Encrypt(_cipher, encryptKey, plain);
            var header = ImageHeader.Read(new MemoryStream(file));
            Assert.Equal((ImageKeyKind.Custody, LedgerFixture.ChainId, Custody, 0, "img-b"),
                (header.KeySource.Kind, header.KeySource.ChainId, header.KeySource.CustodyId, header.KeySource.Epoch, header.KeySource.RequestId));

            using var decryptKey = await CustodyImageKey.ReleaseAsync(ledger.Reader, LedgerFixture.ChainId, Custody, "img-c", cKey);
            Assert.Equal(encryptKey.Fingerprint, decryptKey.Fingerprint);
            using var parallel = new ParallelCpuAccelerator(2, 2);
            Assert.Equal(plain, ImageRoundTripTests.Decrypt(new ImageCipher(parallel), decryptKey, file));

            // The same secret under another custody id is another key; a key file is not a custody key.
            using var wrongId = CustodyImageKey.FromReleasedSecret(secret, ImageKeySource.Custody(LedgerFixture.ChainId, "other-key", 0, "img-b"));
            var e = Assert.Throws<ImageCipherException>(() => ImageRoundTripTests.Decrypt(_cipher, wrongId, file));
            Assert.Equal(ImageError.WrongKey, e.Error);
            Assert.Contains($"custody {Custody}", e.Message, StringComparison.Ordinal);
            using var keyFile = ImageKey.Create();
            Assert.Equal(ImageError.WrongKey, Assert.Throws<ImageCipherException>(() => ImageRoundTripTests.Decrypt(_cipher, keyFile, file)).Error);

            // Releasing needs an approved request sealed to this key.
            await Assert.ThrowsAsync<CustodyException>(() => CustodyImageKey.ReleaseAsync(ledger.Reader, LedgerFixture.ChainId, Custody, "img-b", cKey));
            await Assert.ThrowsAsync<CustodyException>(() => CustodyImageKey.ReleaseAsync(ledger.Reader, LedgerFixture.ChainId, Custody, "none", bKey));
            await Assert.ThrowsAsync<CustodyException>(() => CustodyImageKey.ReleaseAsync(ledger.Reader, LedgerFixture.ChainId, "missing", "img-b", bKey));
        }
        finally
        {
            foreach (var k in custodyKeys.Values) k.Dispose();
        }
    }
}
