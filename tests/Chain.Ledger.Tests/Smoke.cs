using Chain.Ledger.Crypto;
using Chain.Ledger.Model;

namespace Chain.Ledger.Tests;

public class TransactionSmokeTests
{
    [Fact]
    public void Signed_transaction_round_trips_and_verifies()
    {
        using var key = SigningKey.Generate();
        var tx = Transaction.Create("test-chain", "kv", "put", [new byte[] { 1, 2 }], 7, key);
        var back = Transaction.Decode(tx.Encoded);
        Assert.Equal(tx.Id, back.Id);
        Assert.True(back.VerifySignature());
    }
}
