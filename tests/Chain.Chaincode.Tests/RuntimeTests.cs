using System.Text;
using Chain.Accel;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Chaincode.Tests;

public sealed class RuntimeTests
{
    private static readonly SigningKey Node0 = SigningKey.FromSeed(Enumerable.Repeat((byte)20, 32).ToArray());
    private static readonly SigningKey Hospital = SigningKey.FromSeed(Enumerable.Repeat((byte)21, 32).ToArray());
    private static readonly SigningKey Auditor = SigningKey.FromSeed(Enumerable.Repeat((byte)22, 32).ToArray());
    private static readonly SigningKey Stranger = SigningKey.FromSeed(Enumerable.Repeat((byte)23, 32).ToArray());

    private static readonly Genesis Genesis = Chain.Ledger.Identity.Genesis.FromDocument(new Genesis.Document("cc-test", 1_000,
    [
        new Genesis.OrganisationDocument("hospital-a", "Hospital A", Role.Hospital,
            [new Genesis.NodeDocument(0, "node-0", Node0.PublicKey.ToString(), "127.0.0.1:1")],
            [new Genesis.ClientDocument("app", Hospital.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("auditor", "Auditor", Role.Auditor, null,
            [new Genesis.ClientDocument("auditor-1", Auditor.PublicKey.ToString())]),
    ]));

    private static ulong _nonce;

    private static Transaction Tx(SigningKey key, string contract, string function, params string[] args) =>
        Transaction.Create("cc-test", contract, function, [.. args.Select(a => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(a))],
            Interlocked.Increment(ref _nonce), key);

    private static ChaincodeRuntime Runtime(long budget = 100_000) =>
        new(new ContractRegistry().Register(new KeyValueContract()).Register(new Faulty()).Register(new Spinner()), Genesis, budget);

    private static Block BlockOf(InMemoryLedgerStore store, params Transaction[] txs) =>
        Block.Create(store.Height + 1, store.TipHash, store.Height, store.StateRoot, 0, 0, 2_000 + (long)store.Height, txs);

    private static void Commit(InMemoryLedgerStore store, Block block, BlockExecution result)
    {
        var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, block.Height, 0, block.Hash);
        var cert = new CommitCertificate(CertificatePhase.Commit, block.Height, 0, block.Hash, [new ReplicaSignature(0, Node0.Sign(vote))]);
        store.Commit(new CommittedBlock(block, cert), result.Writes);
    }

    private static string? Value(IStateView view, string key) =>
        view.Get(Encoding.UTF8.GetBytes(key)) is { } v ? Encoding.UTF8.GetString(v) : null;

    [Fact]
    public void Writes_are_namespaced_by_contract_and_later_transactions_see_earlier_ones()
    {
        using var store = InMemoryLedgerStore.Create(Genesis);
        var block = BlockOf(store, Tx(Hospital, "kv", "put", "pump-1", "on"), Tx(Hospital, "kv", "delete", "pump-1"),
            Tx(Hospital, "kv", "put", "pump-2", "off"));
        var result = Runtime().Execute(block, new StoreStateView(store));
        Assert.All(result.Outcomes, o => Assert.True(o.Success, o.Error));
        Assert.Equal(["kv/pump-1", "kv/pump-2"], result.ContractWrites.Select(w => Encoding.UTF8.GetString(w.Key)));
        Assert.Null(result.ContractWrites[0].Value);
        Assert.Equal(3, result.Events.Count());
    }

    [Fact]
    public void A_failed_transaction_changes_nothing_and_the_block_goes_on()
    {
        using var store = InMemoryLedgerStore.Create(Genesis);
        var result = Runtime().Execute(BlockOf(store,
            Tx(Hospital, "kv", "delete", "absent"),
            Tx(Hospital, "kv", "put", "only-one-arg"),
            Tx(Hospital, "kv", "frobnicate", "x"),
            Tx(Hospital, "nope", "put", "k", "v"),
            Tx(Stranger, "kv", "put", "k", "v"),
            Tx(Hospital, "faulty", "half-write", "k"),
            Tx(Hospital, "spinner", "spin"),
            Tx(Hospital, "kv", "put", "ok", "1")), new StoreStateView(store));
        var errors = result.Outcomes.Select(o => o.Error).ToList();
        Assert.Equal("no such key", errors[0]);
        Assert.Equal("put takes (key, value)", errors[1]);
        Assert.Contains("no function 'frobnicate'", errors[2], StringComparison.Ordinal);
        Assert.Contains("'nope' is not registered", errors[3], StringComparison.Ordinal);
        Assert.Contains("not in the genesis", errors[4], StringComparison.Ordinal);
        Assert.Equal("contract 'faulty' failed: InvalidOperationException", errors[5]);
        Assert.Contains("step budget", errors[6], StringComparison.Ordinal);
        Assert.True(result.Outcomes[7].Success);
        Assert.Equal(["kv/ok"], result.ContractWrites.Select(w => Encoding.UTF8.GetString(w.Key)));
        Assert.Empty(result.Outcomes.Take(7).SelectMany(o => o.Events));
    }

    [Fact]
    public void Outcomes_and_events_are_stored_in_state_with_the_block_and_decode_strictly()
    {
        using var store = InMemoryLedgerStore.Create(Genesis);
        var block = BlockOf(store, Tx(Hospital, "kv", "put", "pump-1", "on"), Tx(Auditor, "kv", "put", "k", "v"));
        var result = Runtime().Execute(block, new StoreStateView(store));
        Commit(store, block, result);
        var stored = store.GetState(BlockResults.Key(block.Height))!.Value;
        var decoded = BlockResults.Decode(stored);
        Assert.Equal(result.Outcomes.Select(o => (o.TxId, o.Success, o.Error, o.Steps)), decoded.Select(o => (o.TxId, o.Success, o.Error, o.Steps)));
        Assert.Equal("pump-1", Encoding.UTF8.GetString(decoded[0].Events.Single().Data));
        Assert.Equal("auditor 'auditor' has read-only access", decoded[1].Error);
        Assert.Equal("$results/00000000000000000001", Encoding.UTF8.GetString(BlockResults.Key(1)));
        // Truncated, trailing bytes, a wrong tag, an absurd count: typed format errors, never a crash.
        Assert.ThrowsAny<FormatException>(() => BlockResults.Decode(stored.AsSpan(0, stored.Length - 1)));
        Assert.ThrowsAny<FormatException>(() => BlockResults.Decode([.. stored, 0]));
        Assert.ThrowsAny<FormatException>(() => BlockResults.Decode([0x31, .. stored.AsSpan(1)]));
        Assert.ThrowsAny<FormatException>(() => BlockResults.Decode([BlockResults.Tag, BlockResults.FormatVersion, 0xff, 0xff, 0xff, 0xff]));
    }

    [Fact]
    public void An_auditor_cannot_write()
    {
        using var store = InMemoryLedgerStore.Create(Genesis);
        var result = Runtime().Execute(BlockOf(store, Tx(Auditor, "kv", "put", "k", "v")), new StoreStateView(store));
        Assert.False(result.Outcomes[0].Success);
        Assert.Equal("auditor 'auditor' has read-only access", result.Outcomes[0].Error);
        Assert.Empty(result.ContractWrites);
    }

    [Fact]
    public void The_same_blocks_on_two_fresh_stores_give_identical_state_roots()
    {
        var random = new Random(4242);
        var blocks = Enumerable.Range(0, 20).Select(b => Enumerable.Range(0, 30).Select(i => random.Next(4) switch
        {
            0 => Tx(Hospital, "kv", "delete", $"k{random.Next(40)}"),
            1 => Tx(Auditor, "kv", "put", $"k{random.Next(40)}", "a"),
            _ => Tx(Hospital, "kv", "put", $"k{random.Next(40)}", $"v{random.Next(1000)}"),
        }).ToArray()).ToList();
        Hash32 Run()
        {
            using var store = InMemoryLedgerStore.Create(Genesis);
            var runtime = Runtime();
            foreach (var txs in blocks)
            {
                var block = BlockOf(store, txs);
                Commit(store, block, runtime.Execute(block, new StoreStateView(store)));
            }
            return store.StateRoot;
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Reads_see_committed_state_and_the_transactions_own_writes()
    {
        using var store = InMemoryLedgerStore.Create(Genesis);
        var runtime = Runtime();
        var first = BlockOf(store, Tx(Hospital, "kv", "put", "a", "1"));
        Commit(store, first, runtime.Execute(first, new StoreStateView(store)));
        Assert.Equal("1", Value(new StoreStateView(store), "kv/a"));
        var second = BlockOf(store, Tx(Hospital, "kv", "delete", "a"));
        var result = runtime.Execute(second, new StoreStateView(store));
        Assert.True(result.Outcomes[0].Success, result.Outcomes[0].Error);
    }

    /// <summary>Writes, then fails with a non-contract exception: a bug in a contract.</summary>
    private sealed class Faulty : IContract
    {
        public string Id => "faulty";
        public int Version => 1;

        public void Invoke(ContractContext context, string function, IReadOnlyList<ReadOnlyMemory<byte>> args)
        {
            context.Put(args[0].Span, [1]);
            throw new InvalidOperationException("bug");
        }
    }

    /// <summary>Loops until the step budget stops it.</summary>
    private sealed class Spinner : IContract
    {
        public string Id => "spinner";
        public int Version => 1;

        public void Invoke(ContractContext context, string function, IReadOnlyList<ReadOnlyMemory<byte>> args)
        {
            for (var i = 0; ; i++) context.Get($"k{i}");
        }
    }
}
