using System.Security.Cryptography;
using Chain.Ai.OnChain;
using Chain.Client.Custody;
using Chain.Client.Imaging;

namespace Chain.Ai.Tests.OnChain;

/// <summary>The vault's file key and the cipher's typed errors, without a ledger (the end-to-end test releases the key through custody).</summary>
public sealed class WeightsVaultTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("chain-ai-vault-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_key_from_the_same_secret_decrypts_and_another_secret_or_an_altered_file_fails_typed_leaving_no_output()
    {
        var weights = new byte[200_000];
        new Random(7).NextBytes(weights);
        var plain = Path.Combine(_dir, "w.bin");
        File.WriteAllBytes(plain, weights);
        var secret = Dealer.NewSecret();
        var encrypted = Path.Combine(_dir, "w.enc");
        using (var key = WeightsVault.KeyFor(secret, "chain-testnet", "iomt-ids-1-key", WeightsVault.DealRequestId))
            new ImageCipher().EncryptFile(plain, encrypted, key);
        Assert.NotEqual(weights, File.ReadAllBytes(encrypted)[^weights.Length..]);

        // The requester derives the key from the released secret under its own release id: same key.
        var output = Path.Combine(_dir, "out.bin");
        using (var released = WeightsVault.KeyFor(secret, "chain-testnet", "iomt-ids-1-key", "release-1"))
            new ImageCipher().DecryptFile(encrypted, output, released);
        Assert.Equal(weights, File.ReadAllBytes(output));

        var wrongOut = Path.Combine(_dir, "wrong.bin");
        using (var wrong = WeightsVault.KeyFor(Dealer.NewSecret(), "chain-testnet", "iomt-ids-1-key", "release-1"))
            Assert.Equal(ImageError.WrongKey, Assert.Throws<ImageCipherException>(() => new ImageCipher().DecryptFile(encrypted, wrongOut, wrong)).Error);
        using (var otherCustody = WeightsVault.KeyFor(secret, "chain-testnet", "another-key", "release-1"))
            Assert.Equal(ImageError.WrongKey, Assert.Throws<ImageCipherException>(() => new ImageCipher().DecryptFile(encrypted, wrongOut, otherCustody)).Error);

        var bytes = File.ReadAllBytes(encrypted);
        bytes[^1000] ^= 0x01;
        var tampered = Path.Combine(_dir, "tampered.enc");
        File.WriteAllBytes(tampered, bytes);
        using (var key = WeightsVault.KeyFor(secret, "chain-testnet", "iomt-ids-1-key", "release-1"))
            Assert.Equal(ImageError.Tampered, Assert.Throws<ImageCipherException>(() => new ImageCipher().DecryptFile(tampered, wrongOut, key)).Error);
        Assert.False(File.Exists(wrongOut));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(weights)), ModelAttestor.HashFile(output));
    }
}
