using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Chain.Accel;
using Chain.Chaincode;
using Chain.Chaincode.Contracts;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Benchmarks;

/// <summary>
/// Contract transactions per second through the runtime. One benchmark operation is one block run through
/// <see cref="ChaincodeRuntime.Execute"/> over a <see cref="StoreStateView"/>; the state left by each block is
/// committed, so state grows from iteration to iteration as it would on a node.
/// <list type="bullet">
/// <item><see cref="Mode.ExecuteInMemory"/>: the measurement is <c>Execute</c> alone over an
/// <see cref="InMemoryLedgerStore"/>; the writes are committed to that store after the measurement
/// (IterationCleanup), not measured.</item>
/// <item><see cref="Mode.ExecuteCommitRocksDb"/>: the measurement is <c>Execute</c> over a
/// <see cref="RocksDbLedgerStore"/> (temporary directory) plus <see cref="ILedgerStore.Commit"/> of the block with
/// its writes: encoding, transaction index, sparse Merkle state tree and one synced write batch. The block's
/// commit certificate is signed in setup.</item>
/// </list>
/// Workloads (all transactions signed in setup by genesis clients of three hospitals):
/// <list type="bullet">
/// <item><see cref="ModelsRegister"/>: 1,000 <c>models.register</c> of new versions (parent "1.0") spread over 10
/// models, with valid metadata JSON.</item>
/// <item><see cref="ModelsEndorse"/>: 1,000 <c>models.endorse</c> by hospitals B and C of 1,000 versions that hospital
/// A registered (and committed) in this iteration's setup, so each iteration endorses fresh versions.</item>
/// <item><see cref="DefenseRecord100x100"/>: 100 <c>defense.record</c> each carrying a batch of 100 actions
/// (10,000 actions, 30,000 state writes per block).</item>
/// <item><see cref="DefenseRecord1000x1"/>: 1,000 single-action <c>defense.record</c>.</item>
/// <item><see cref="KvPut"/>: 1,000 <c>kv.put</c> of fresh 24-byte keys with random values sized so that each signed
/// transaction encodes to 200 bytes (as in the ledger benchmarks), the baseline of a contract that only writes.</item>
/// </list>
/// <para>Reading the results: <c>OperationsPerInvoke</c> is the block's transaction count, so BenchmarkDotNet's
/// Mean is the time per transaction and <b>tx/s = 1e9 / Mean(ns)</b> (block time = Mean × transactions per block).
/// For <see cref="DefenseRecord100x100"/> a transaction is a 100-action batch: <b>actions/s = 100 × tx/s</b>.
/// Allocated is per transaction too.</para>
/// <para>Every measured block is checked before it is measured: IterationSetup executes it once over the current
/// state (execution is pure — writes go to the runtime's overlay, the store is untouched) and throws unless every
/// outcome is Success with the expected number of writes; IterationCleanup checks the measured execution the same
/// way. A benchmark therefore never measures refusals. The check's execution warms caches (RocksDB block cache)
/// for the measured one.</para>
/// <para>Each benchmark case starts from a fresh store holding only 10 registered models and commits one block per
/// iteration (plus, for endorse, the block registering the versions), so with this class's job (3 warm-up + 20
/// measured) it ends at about 25 blocks: the RocksDB figures depend on that state size. <c>--job short</c> adds a
/// job next to this one rather than replacing it; <c>--warmupCount 1 --iterationCount 3</c> shortens this job
/// instead. Run: <c>dotnet run -c Release --project tests/Chain.Benchmarks -- --filter '*ContractBenchmarks*'</c>.</para>
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 20, invocationCount: 1)]
public class ContractBenchmarks
{
    /// <summary>What one operation measures.</summary>
    public enum Mode
    {
        /// <summary>Execute over the in-memory store (commit afterwards, unmeasured).</summary>
        ExecuteInMemory,

        /// <summary>Execute over RocksDB and commit to it (synced), both measured.</summary>
        ExecuteCommitRocksDb,
    }

    private const string ChainId = "bench-contracts";
    private const int Models = 10;
    private const int TxPerBlock = 1000;
    private const int BatchTxPerBlock = 100;
    private const int ActionsPerBatch = 100;
    private const string BaseVersion = "1.0";
    private const int KvTransactionBytes = 200;
    private static readonly string[] Severities = ["info", "low", "medium", "high", "critical"];

    private static SigningKey Key(byte b) => SigningKey.FromSeed(Enumerable.Repeat(b, 32).ToArray());

    private readonly SigningKey _a = Key(41), _b = Key(42), _c = Key(43), _node = Key(40);
    private Genesis _genesis = null!;
    private ChaincodeRuntime _runtime = null!;
    private ILedgerStore _store = null!;
    private string? _dir;
    private ulong _nonce;
    private int _sequence;
    private int _kvValueBytes;
    private readonly Random _random = new(7);

    private CommittedBlock? _next;
    private int _expectedWrites;
    private BlockExecution? _measured;

    [Params(Mode.ExecuteInMemory, Mode.ExecuteCommitRocksDb)]
    public Mode Measure { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _genesis = Genesis.FromDocument(new Genesis.Document(ChainId, 1_000,
        [
            new Genesis.OrganisationDocument("hospital-a", "A", Role.Hospital,
                [new Genesis.NodeDocument(0, "node-0", _node.PublicKey.ToString(), "127.0.0.1:1")],
                [new Genesis.ClientDocument("a", _a.PublicKey.ToString())]),
            new Genesis.OrganisationDocument("hospital-b", "B", Role.Hospital, null, [new Genesis.ClientDocument("b", _b.PublicKey.ToString())]),
            new Genesis.OrganisationDocument("hospital-c", "C", Role.Hospital, null, [new Genesis.ClientDocument("c", _c.PublicKey.ToString())]),
        ]));
        _runtime = new ChaincodeRuntime(new ContractRegistry().Register(new KeyValueContract()).Register(new ModelAttestationContract())
            .Register(new DefenseLogContract()).Register(new FederatedRoundContract()).Register(new ShareCustodyContract()), _genesis);
        if (Measure == Mode.ExecuteCommitRocksDb)
        {
            _dir = Path.Combine(Path.GetTempPath(), "chain-bench-contracts-" + Guid.NewGuid().ToString("N"));
            _store = RocksDbLedgerStore.Open(_dir, _genesis);
        }
        else
        {
            _store = InMemoryLedgerStore.Create(_genesis);
        }
        // The models whose new versions ModelsRegister and ModelsEndorse register.
        var bases = Enumerable.Range(0, Models)
            .Select(m => Tx(_a, "models", "register", ModelName(m), BaseVersion, WeightsHash($"{ModelName(m)}/{BaseVersion}"), "", Metadata(m)))
            .ToArray();
        ExecuteAndCommit(NextBlock(bases), "registering the base models", expectedWrites: 3 * Models);
        _kvValueBytes = KvTransactionBytes - KvPutTx(0, 0, []).Encoded.Length;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        foreach (var key in new[] { _a, _b, _c, _node }) key.Dispose();
        if (_dir is not null) Directory.Delete(_dir, recursive: true);
    }

    [IterationSetup(Target = nameof(ModelsRegister))]
    public void SetupModelsRegister() => Prepare(RegisterVersions(_sequence++), expectedWrites: TxPerBlock);

    [IterationSetup(Target = nameof(ModelsEndorse))]
    public void SetupModelsEndorse()
    {
        var sequence = _sequence++;
        ExecuteAndCommit(NextBlock(RegisterVersions(sequence)), "registering the versions to endorse", expectedWrites: TxPerBlock);
        var endorsements = new Transaction[TxPerBlock];
        for (var i = 0; i < TxPerBlock; i++)
            endorsements[i] = Tx(i % 2 == 0 ? _b : _c, "models", "endorse", ModelName(i % Models), VersionName(sequence, i));
        Prepare(endorsements, expectedWrites: TxPerBlock);
    }

    [IterationSetup(Target = nameof(DefenseRecord100x100))]
    public void SetupDefenseRecord100x100() => Prepare(DefenseRecords(BatchTxPerBlock, ActionsPerBatch), expectedWrites: 3 * BatchTxPerBlock * ActionsPerBatch);

    [IterationSetup(Target = nameof(DefenseRecord1000x1))]
    public void SetupDefenseRecord1000x1() => Prepare(DefenseRecords(TxPerBlock, 1), expectedWrites: 3 * TxPerBlock);

    [IterationSetup(Target = nameof(KvPut))]
    public void SetupKvPut()
    {
        var sequence = _sequence++;
        var txs = new Transaction[TxPerBlock];
        for (var i = 0; i < TxPerBlock; i++)
        {
            var value = new byte[_kvValueBytes];
            _random.NextBytes(value);
            txs[i] = KvPutTx(sequence, i, value);
            if (txs[i].Encoded.Length != KvTransactionBytes) throw new InvalidOperationException($"kv.put of {txs[i].Encoded.Length} bytes");
        }
        Prepare(txs, expectedWrites: TxPerBlock);
    }

    private Transaction KvPutTx(int sequence, int i, byte[] value) =>
        Transaction.Create(ChainId, "kv", "put", [Encoding.UTF8.GetBytes($"telemetry/d{i:D4}/{sequence:D8}"), value], ++_nonce, Sender(i));

    /// <summary>Checks the measured execution; in <see cref="Mode.ExecuteInMemory"/> commits its writes (unmeasured).</summary>
    [IterationCleanup]
    public void AfterIteration()
    {
        if (_measured is null || _next is null) return; // an iteration that did not run the workload
        RequireSuccess(_measured, _next.Block, _expectedWrites, "measured block");
        if (Measure == Mode.ExecuteInMemory) _store.Commit(_next, _measured.Writes);
        _measured = null;
        _next = null;
    }

    [Benchmark(OperationsPerInvoke = TxPerBlock)]
    public BlockExecution ModelsRegister() => Run();

    [Benchmark(OperationsPerInvoke = TxPerBlock)]
    public BlockExecution ModelsEndorse() => Run();

    [Benchmark(OperationsPerInvoke = BatchTxPerBlock)]
    public BlockExecution DefenseRecord100x100() => Run();

    [Benchmark(OperationsPerInvoke = TxPerBlock)]
    public BlockExecution DefenseRecord1000x1() => Run();

    [Benchmark(OperationsPerInvoke = TxPerBlock)]
    public BlockExecution KvPut() => Run();

    private BlockExecution Run()
    {
        var next = _next ?? throw new InvalidOperationException("no block prepared");
        var result = _runtime.Execute(next.Block, new StoreStateView(_store));
        if (Measure == Mode.ExecuteCommitRocksDb) _store.Commit(next, result.Writes);
        _measured = result;
        return result;
    }

    /// <summary>Builds the block on the tip and executes it once (unmeasured), throwing unless every transaction succeeds.</summary>
    private void Prepare(Transaction[] txs, int expectedWrites)
    {
        var next = NextBlock(txs);
        RequireSuccess(_runtime.Execute(next.Block, new StoreStateView(_store)), next.Block, expectedWrites, "prepared block");
        _next = next;
        _expectedWrites = expectedWrites;
        _measured = null;
    }

    private void ExecuteAndCommit(CommittedBlock next, string what, int expectedWrites)
    {
        var result = _runtime.Execute(next.Block, new StoreStateView(_store));
        RequireSuccess(result, next.Block, expectedWrites, what);
        _store.Commit(next, result.Writes);
    }

    private static void RequireSuccess(BlockExecution result, Block block, int expectedWrites, string what)
    {
        if (result.Outcomes.Count != block.Transactions.Count)
            throw new InvalidOperationException($"{what}: {result.Outcomes.Count} outcomes for {block.Transactions.Count} transactions");
        foreach (var o in result.Outcomes)
        {
            if (!o.Success) throw new InvalidOperationException($"{what}: transaction {o.TxId.Short} failed: {o.Error}");
        }
        if (result.ContractWrites.Count != expectedWrites)
            throw new InvalidOperationException($"{what}: {result.ContractWrites.Count} state writes, expected {expectedWrites}");
    }

    /// <summary>The next block on the store's tip with its commit certificate (signed here, in setup).</summary>
    private CommittedBlock NextBlock(Transaction[] txs)
    {
        var height = _store.Height + 1;
        var block = Block.Create(height, _store.TipHash, _store.Height, _store.StateRoot, 0, 0, 2_000 + (long)height, txs);
        var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, height, 0, block.Hash);
        return new CommittedBlock(block, new CommitCertificate(CertificatePhase.Commit, height, 0, block.Hash,
            [new ReplicaSignature(0, _node.Sign(vote))]));
    }

    private Transaction[] RegisterVersions(int sequence)
    {
        var txs = new Transaction[TxPerBlock];
        for (var i = 0; i < TxPerBlock; i++)
        {
            var model = ModelName(i % Models);
            var version = VersionName(sequence, i);
            txs[i] = Tx(_a, "models", "register", model, version, WeightsHash($"{model}/{version}"), BaseVersion, Metadata(i));
        }
        return txs;
    }

    private Transaction[] DefenseRecords(int transactions, int actionsPerTransaction)
    {
        var sequence = _sequence++;
        var txs = new Transaction[transactions];
        for (var t = 0; t < transactions; t++)
        {
            var actions = Enumerable.Range(0, actionsPerTransaction).Select(i => Action(sequence, t * actionsPerTransaction + i));
            txs[t] = Tx(Sender(t), "defense", "record", "[" + string.Join(",", actions) + "]");
        }
        return txs;
    }

    private SigningKey Sender(int i) => (i % 3) switch { 0 => _a, 1 => _b, _ => _c };

    private Transaction Tx(SigningKey key, string contract, string function, params string[] args) =>
        Transaction.Create(ChainId, contract, function, [.. args.Select(a => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(a))], ++_nonce, key);

    private static string ModelName(int m) => $"iomt-detector-{m}";

    private static string VersionName(int sequence, int i) => $"2.{sequence}.{i}";

    private static string WeightsHash(string seed) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(seed)));

    private static string Metadata(int i) =>
        $$"""{"datasetFingerprint":"sha256:{{WeightsHash("data/" + i.ToString(CultureInfo.InvariantCulture))[..16]}}","metrics":{"auc":0.9{{i % 10}},"f1":0.8{{i % 10}}},"epsilon":1.5}""";

    private static string Action(int sequence, int n) =>
        $$"""{"agent":"ids-{{n % 4}}","modelVersion":"iomt-detector-0:1.0","severity":"{{Severities[n % Severities.Length]}}","device":"device-{{n % 500:D4}}","action":"{{(n % 3 == 0 ? "isolate" : "alert")}}","evidenceSha256":"{{WeightsHash($"evidence/{sequence}/{n}")}}"}""";
}
