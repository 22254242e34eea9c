using Chain.Accel;
using Chain.Ledger.Identity;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Chain.Ledger.Tests.Identity;

public class ValidatorSetTests
{
    private static ValidatorSet Of(int n) => new(Enumerable.Range(0, n).Select(i =>
        new Validator((ushort)i, new PublicKey(Hash32.Sha256(BitConverter.GetBytes(i))), $"org-{i}", $"node-{i}")));

    [Theory]
    [InlineData(1, 0, 1)]
    [InlineData(2, 0, 2)]
    [InlineData(3, 0, 2)]
    [InlineData(4, 1, 3)]
    [InlineData(5, 1, 4)]
    [InlineData(6, 1, 4)]
    [InlineData(7, 2, 5)]
    [InlineData(10, 3, 7)]
    public void Quorum_and_fault_bound(int n, int f, int quorum)
    {
        var set = Of(n);
        Assert.Equal(n, set.Count);
        Assert.Equal(f, set.MaxFaulty);
        Assert.Equal(quorum, set.Quorum);
    }

    [Property(MaxTest = 100)]
    public Property Any_two_quorums_share_an_honest_replica_and_honest_replicas_form_a_quorum() =>
        Prop.ForAll(Arb.From(Gen.Choose(1, 400)), n =>
        {
            var set = Of(n);
            var (f, q) = (set.MaxFaulty, set.Quorum);
            Assert.Equal((n - 1) / 3, f);
            Assert.True(2 * q - n >= f + 1, $"n={n}: two quorums of {q} may share only faulty replicas");
            Assert.True(q <= n - f, $"n={n}: the {n - f} honest replicas cannot form a quorum of {q}");
            Assert.True(2 * (q - 1) - n < f + 1, $"n={n}: quorum {q} is larger than needed");
            if (n % 3 == 1) Assert.Equal(2 * f + 1, q);
        });

    [Fact]
    public void Lookup_by_replica_id()
    {
        var set = Of(4);
        Assert.True(set.TryGet(2, out var v));
        Assert.Equal("node-2", v.Name);
        Assert.False(set.TryGet(4, out _));
        Assert.Throws<KeyNotFoundException>(() => set[4]);
        Assert.Equal([0, 1, 2, 3], set.All.Select(x => (int)x.Id));
    }

    [Fact]
    public void Empty_duplicate_ids_and_shared_keys_are_invalid_genesis()
    {
        LedgerAssert.Throws(LedgerError.InvalidGenesis, "at least one validator", () => _ = new ValidatorSet([]));
        var key = TestData.Key(1).PublicKey;
        LedgerAssert.Throws(LedgerError.InvalidGenesis, "used twice", () => _ = new ValidatorSet(
            [new Validator(1, key, "a", "a"), new Validator(1, TestData.Key(2).PublicKey, "b", "b")]));
        LedgerAssert.Throws(LedgerError.InvalidGenesis, "share a public key", () => _ = new ValidatorSet(
            [new Validator(1, key, "a", "a"), new Validator(2, key, "b", "b")]));
    }
}
