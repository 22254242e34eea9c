using Chain.Accel;
using Chain.Ledger.Model;

namespace Chain.Node.Tests;

public sealed class MempoolTests
{
    private static readonly SigningKey Alice = SigningKey.FromSeed(Enumerable.Repeat((byte)1, 32).ToArray());
    private static readonly SigningKey Bob = SigningKey.FromSeed(Enumerable.Repeat((byte)2, 32).ToArray());

    private static Transaction Tx(SigningKey key, ulong nonce) =>
        Transaction.Create("test-chain", "kv", "put", ["k"u8.ToArray(), BitConverter.GetBytes(nonce)], nonce, key);

    [Fact]
    public void Admits_once_per_id()
    {
        var pool = new Mempool(new MempoolOptions { Capacity = 10, PerClientCapacity = 10 });
        var tx = Tx(Alice, 1);
        Assert.Equal(AdmitOutcome.Admitted, pool.TryAdd(tx, 0, true));
        Assert.Equal(AdmitOutcome.AlreadyPending, pool.TryAdd(tx, 0, true));
        Assert.Equal(1, pool.Count);
    }

    [Fact]
    public void Is_bounded_and_pushes_back_when_full()
    {
        var pool = new Mempool(new MempoolOptions { Capacity = 3, PerClientCapacity = 3 });
        for (ulong i = 0; i < 3; i++) Assert.Equal(AdmitOutcome.Admitted, pool.TryAdd(Tx(i % 2 == 0 ? Alice : Bob, i), 0, true));
        Assert.Equal(AdmitOutcome.Full, pool.TryAdd(Tx(Bob, 99), 0, true));
        Assert.Equal(3, pool.Count);
        pool.Remove([Tx(Alice, 0).Id]);
        Assert.Equal(AdmitOutcome.Admitted, pool.TryAdd(Tx(Bob, 99), 0, true));
    }

    [Fact]
    public void One_client_cannot_take_more_than_its_share()
    {
        var pool = new Mempool(new MempoolOptions { Capacity = 100, PerClientCapacity = 2 });
        Assert.Equal(AdmitOutcome.Admitted, pool.TryAdd(Tx(Alice, 1), 0, true));
        Assert.Equal(AdmitOutcome.Admitted, pool.TryAdd(Tx(Alice, 2), 0, true));
        Assert.Equal(AdmitOutcome.ClientOverShare, pool.TryAdd(Tx(Alice, 3), 0, true));
        Assert.Equal(AdmitOutcome.Admitted, pool.TryAdd(Tx(Bob, 1), 0, true));
    }

    [Fact]
    public void Batches_alternate_between_clients_and_skip_excluded_ids()
    {
        var pool = new Mempool(new MempoolOptions());
        for (ulong i = 0; i < 10; i++) pool.TryAdd(Tx(Alice, i), 0, true);
        pool.TryAdd(Tx(Bob, 0), 0, true);
        pool.TryAdd(Tx(Bob, 1), 0, true);
        var batch = pool.TakeBatch(4, new HashSet<Hash32> { Tx(Alice, 0).Id });
        Assert.Equal(4, batch.Count);
        Assert.Equal(2, batch.Count(t => t.Sender == Bob.PublicKey));
        Assert.DoesNotContain(batch, t => t.Id == Tx(Alice, 0).Id);
        Assert.Equal(12, pool.Count); // taking does not remove
    }

    [Fact]
    public void Removing_reports_what_was_pending()
    {
        var pool = new Mempool(new MempoolOptions());
        pool.TryAdd(Tx(Alice, 1), 42, true);
        var removed = pool.Remove([Tx(Alice, 1).Id, Tx(Bob, 7).Id]);
        Assert.Single(removed);
        Assert.Equal(42, removed[0].ArrivedAt);
        Assert.Equal(0, pool.Count);
        Assert.Empty(pool.TakeBatch(10, new HashSet<Hash32>()));
    }
}
