using Chain.Ledger.Model;
using Chain.Ledger.Validation;

namespace Chain.Ledger.Tests.Validation;

public class TransactionValidatorTests
{
    private static readonly TestNetwork Net = TestData.Network(validators: 4, clientsPerHospital: 2);
    private static readonly TransactionValidator Validator = new(Net.Genesis, new HashSet<string> { "kv", "records" });

    private static void Rejected(LedgerError error, string messagePart, TxCheck check)
    {
        Assert.False(check.IsAccepted);
        Assert.Equal(error, check.Error);
        Assert.Contains(messagePart, check.Message);
        var e = Assert.ThrowsAny<LedgerException>(check.ThrowIfRejected);
        Assert.Equal(error, e.Error);
    }

    [Fact]
    public void A_listed_sender_with_a_good_signature_and_a_registered_contract_is_accepted()
    {
        foreach (var key in Net.ClientKeys.Concat([Net.AuditorKey, Net.RegulatorKey, Net.ValidatorKeys[0]]))
        {
            var check = Validator.Check(TestData.Put(key, 0, "k", "v"));
            Assert.True(check.IsAccepted, check.Message);
            check.ThrowIfRejected();
        }
    }

    [Fact]
    public void A_wrong_signature_is_BadSignature()
    {
        var tx = TestData.Put(Net.ClientKeys[0], 1, "k", "v");
        var signedByOther = TestData.Put(Net.ClientKeys[1], 1, "k", "v").Signature;
        var forged = Transaction.FromParts(tx.ChainId, tx.Contract, tx.Function, tx.Args, tx.Sender, tx.Nonce,
            signedByOther);
        Rejected(LedgerError.BadSignature, "does not verify", Validator.Check(forged));

        var bytes = tx.Encoded.ToArray();
        bytes[^1] ^= 1;
        Rejected(LedgerError.BadSignature, "does not verify",
            Validator.Check(bytes, LedgerLimits.Default, out var decoded));
        Assert.NotNull(decoded);
    }

    [Fact]
    public void An_unregistered_contract_is_UnknownContract()
    {
        var tx = Transaction.Create(Net.ChainId, "payroll", "pay", [], 1, Net.ClientKeys[0]);
        Rejected(LedgerError.UnknownContract, "'payroll'", Validator.Check(tx));
        // Contract names are case-sensitive.
        var upperCase = Transaction.Create(Net.ChainId, "KV", "put", [], 1, Net.ClientKeys[0]);
        Rejected(LedgerError.UnknownContract, "'KV'", Validator.Check(upperCase));
    }

    [Fact]
    public void A_sender_not_in_the_genesis_is_UnknownSender()
    {
        Rejected(LedgerError.UnknownSender, "not in the genesis",
            Validator.Check(TestData.Put(TestData.Key(0), 1, "k", "v")));
        var other = TestData.Network(validators: 4, clientsPerHospital: 3);
        Rejected(LedgerError.UnknownSender, "not in the genesis",
            Validator.Check(TestData.Put(other.ClientKeys[2], 1, "k", "v")));
    }

    [Fact]
    public void Another_chain_is_WrongChain()
    {
        var tx = TestData.Put(Net.ClientKeys[0], 1, "k", "v", chainId: "other-chain");
        Rejected(LedgerError.WrongChain, "'other-chain'", Validator.Check(tx));
    }

    [Fact]
    public void Raw_bytes_that_do_not_decode_are_rejected_with_the_decoding_error_and_never_throw()
    {
        Rejected(LedgerError.Malformed, "transaction", Validator.Check([1, 2, 3], LedgerLimits.Default, out var tx));
        Assert.Null(tx);
        Rejected(LedgerError.Malformed, "transaction", Validator.Check([], LedgerLimits.Default, out tx));
        var big = Transaction.Create(Net.ChainId, "kv", "put", [new byte[5000]], 1, Net.ClientKeys[0]);
        Rejected(LedgerError.TooLarge, "limit 4096",
            Validator.Check(big.Encoded, new LedgerLimits { MaxTransactionBytes = 4096 }, out tx));
        Assert.Null(tx);
        var good = TestData.Put(Net.ClientKeys[0], 1, "k", "v");
        Assert.True(Validator.Check(good.Encoded, LedgerLimits.Default, out tx).IsAccepted);
        Assert.Equal(good.Id, tx!.Id);
    }
}
