using System.Security.Cryptography;
using System.Text;
using Chain.Accel;
using Chain.Chaincode;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Testing;

/// <summary>What <see cref="TestLedger.Build"/> appended.</summary>
public sealed record BuiltLedger(ulong FirstHeight, ulong Tip, long Transactions, long ContractCalls, long Refused, Hash32 TipHash, Hash32 StateRoot);

/// <summary>
/// A deterministic consortium for tests and benchmarks: four hospitals "hospital-a".."hospital-d", hospital i running
/// validator replica i (its node key) and an application client (its app key), an auditor client and a regulator client.
/// Every key comes from a fixed seed (SHA-256 of "chain-testing/{name}"), so the genesis and every ledger built from the
/// same arguments are identical. <see cref="Build"/> appends blocks executed through the real runtime with commit
/// certificates signed by three of the four validators, as a node would have committed them.
/// Keys are owned by the instance for the process's lifetime; do not dispose them.
/// </summary>
public sealed class TestLedger
{
    public const string DefaultChainId = "test-ledger";

    /// <summary>2023-11-14T22:13:20Z in Unix milliseconds.</summary>
    public const long GenesisTimestamp = 1_700_000_000_000;

    /// <summary>Milliseconds between consecutive blocks.</summary>
    public const long BlockInterval = 1_000;

    public static IReadOnlyList<string> Hospitals { get; } = ["hospital-a", "hospital-b", "hospital-c", "hospital-d"];

    /// <summary>A shared instance with the default chain id.</summary>
    public static TestLedger Default { get; } = new();

    private const string Weights = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    private const string Metadata = """{"datasetFingerprint":"sha256:ab12","metrics":{"auc":0.97,"f1":0.91},"epsilon":1.5}""";

    public TestLedger(string chainId = DefaultChainId)
    {
        NodeKeys = [.. Hospitals.Select(h => KeyFor($"{h}/node"))];
        AppKeys = [.. Hospitals.Select(h => KeyFor($"{h}/app"))];
        AuditorKey = KeyFor("auditor/client");
        RegulatorKey = KeyFor("regulator/client");
        var orgs = new List<Genesis.OrganisationDocument>();
        for (var i = 0; i < Hospitals.Count; i++)
        {
            orgs.Add(new Genesis.OrganisationDocument(Hospitals[i], $"Hospital {(char)('A' + i)}", Role.Hospital,
                [new Genesis.NodeDocument((ushort)i, $"node-{(char)('a' + i)}", NodeKeys[i].PublicKey.ToString(), $"127.0.0.1:{7000 + i}")],
                [new Genesis.ClientDocument("app", AppKeys[i].PublicKey.ToString())]));
        }
        orgs.Add(new Genesis.OrganisationDocument("auditor", "The Auditor", Role.Auditor, [],
            [new Genesis.ClientDocument("audit-client", AuditorKey.PublicKey.ToString())]));
        orgs.Add(new Genesis.OrganisationDocument("regulator", "The Regulator", Role.Regulator, [],
            [new Genesis.ClientDocument("regulator-client", RegulatorKey.PublicKey.ToString())]));
        Genesis = Genesis.FromDocument(new Genesis.Document(chainId, GenesisTimestamp, orgs));
    }

    public Genesis Genesis { get; }

    public string ChainId => Genesis.ChainId;

    public string GenesisJson => Genesis.ToJson();

    /// <summary>Validator keys by replica id (replica i is hospital i's node).</summary>
    public IReadOnlyList<SigningKey> NodeKeys { get; }

    /// <summary>The hospitals' application client keys, in <see cref="Hospitals"/> order.</summary>
    public IReadOnlyList<SigningKey> AppKeys { get; }

    public SigningKey AuditorKey { get; }

    public SigningKey RegulatorKey { get; }

    /// <summary>The 32-byte seed of the key named <paramref name="name"/>.</summary>
    public static byte[] Seed(string name) => SHA256.HashData(Encoding.UTF8.GetBytes($"chain-testing/{name}"));

    private static SigningKey KeyFor(string name) => SigningKey.FromSeed(Seed(name));

    public void WriteGenesis(string path) => File.WriteAllText(path, GenesisJson);

    /// <summary>The runtime a node of this consortium runs.</summary>
    public ChaincodeRuntime Runtime() => new(SystemContracts.Registry(), Genesis);

    /// <summary>
    /// Builds a RocksDB ledger laid out like a node's: <c>{root}/genesis.json</c> and the store at <c>{root}/data/ledger</c>,
    /// which is returned. Uses <see cref="Default"/>.
    /// </summary>
    public static string CreateDataDirectory(string root, int blocks, int txPerBlock, int seed = 1, double contractMix = 0.1) =>
        Default.CreateLedgerDirectory(root, blocks, txPerBlock, seed, contractMix).Path;

    /// <summary>As <see cref="CreateDataDirectory"/>, for this consortium; also returns what was built.</summary>
    public (string Path, BuiltLedger Built) CreateLedgerDirectory(string root, int blocks, int txPerBlock, int seed = 1,
        double contractMix = 0.1)
    {
        var ledger = System.IO.Path.Combine(root, "data", "ledger");
        Directory.CreateDirectory(ledger);
        WriteGenesis(System.IO.Path.Combine(root, "genesis.json"));
        using var store = RocksDbLedgerStore.Open(ledger, Genesis);
        var built = Build(store, blocks, txPerBlock, seed, contractMix);
        return (ledger, built);
    }

    /// <summary>
    /// Appends <paramref name="blocks"/> blocks of <paramref name="txPerBlock"/> transactions to <paramref name="store"/>
    /// (which must belong to <see cref="Genesis"/>), each executed through <see cref="Runtime"/> and committed with its writes.
    /// Most transactions are "kv put"s from the hospital apps; a fraction <paramref name="contractMix"/> are contract calls
    /// (models register/endorse, defense record, fl budget/open/submit), about one in eight of which the contract refuses
    /// (committed without effect). Headers carry executed height = previous height and the store's state root at that height;
    /// certificates are Commit-phase votes from three of the four validators (which three rotates with the height).
    /// Deterministic in (store tip, arguments).
    /// </summary>
    public BuiltLedger Build(ILedgerStore store, int blocks, int txPerBlock, int seed = 1, double contractMix = 0.1)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        ArgumentOutOfRangeException.ThrowIfNegative(txPerBlock);
        if (store.GenesisHash != Genesis.Hash) throw new ArgumentException("the store belongs to another genesis", nameof(store));
        var runtime = Runtime();
        var first = store.Height + 1;
        var timestamp = store.Height == 0 ? Genesis.Timestamp : store.GetBlock(store.Height)!.Block.Header.Timestamp;
        var plan = new Planner(this, seed, first);
        long txCount = 0, calls = 0, refused = 0;
        for (var b = 0; b < blocks; b++)
        {
            var height = store.Height + 1;
            var specs = new TxSpec[txPerBlock];
            for (var i = 0; i < txPerBlock; i++) specs[i] = plan.Next(height, i, contractMix);
            var txs = new Transaction[txPerBlock];
            Parallel.For(0, (txPerBlock + 63) / 64, chunk =>
            {
                for (var i = chunk * 64; i < Math.Min(txPerBlock, chunk * 64 + 64); i++) txs[i] = specs[i].Sign(ChainId);
            });
            timestamp += BlockInterval;
            const ulong view = 0;
            var proposer = (ushort)(view % (ulong)NodeKeys.Count);
            var block = Block.Create(height, store.TipHash, store.Height, store.StateRoot, proposer, view, timestamp, txs);
            var result = runtime.Execute(block, new StoreStateView(store));
            store.Commit(new CommittedBlock(block, Certify(block, view)), result.Writes);
            txCount += txPerBlock;
            calls += specs.Count(s => s.Contract != "kv");
            refused += result.Outcomes.Count(o => !o.Success);
        }
        return new BuiltLedger(first, store.Height, txCount, calls, refused, store.TipHash, store.StateRoot);
    }

    /// <summary>A Commit-phase certificate for <paramref name="block"/> from every validator but replica height mod n.</summary>
    public CommitCertificate Certify(Block block, ulong view = 0)
    {
        ArgumentNullException.ThrowIfNull(block);
        var skip = (int)(block.Height % (ulong)NodeKeys.Count);
        var signers = Enumerable.Range(0, NodeKeys.Count).Where(r => r != skip).Take(Genesis.Validators.Quorum);
        return Certify(block, signers.Select(r => (ushort)r), view);
    }

    /// <summary>A Commit-phase certificate for <paramref name="block"/> signed by <paramref name="replicas"/> (any number: for tampering).</summary>
    public CommitCertificate Certify(Block block, IEnumerable<ushort> replicas, ulong view = 0)
    {
        ArgumentNullException.ThrowIfNull(block);
        var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, block.Height, view, block.Hash);
        return new CommitCertificate(CertificatePhase.Commit, block.Height, view, block.Hash,
            replicas.Select(r => new ReplicaSignature(r, NodeKeys[r].Sign(vote))));
    }

    /// <summary>An unsigned transaction: who sends what.</summary>
    private sealed record TxSpec(SigningKey Key, string Contract, string Function, string[] Args, ulong Nonce)
    {
        public Transaction Sign(string chainId) => Transaction.Create(chainId, Contract, Function,
            [.. Args.Select(a => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(a))], Nonce, Key);
    }

    /// <summary>Chooses transactions from a seeded generator and tracks enough contract state to make most calls succeed.</summary>
    private sealed class Planner(TestLedger ledger, int seed, ulong firstHeight)
    {
        private readonly Random _rng = new(seed);
        private readonly string _tag = $"s{seed}h{firstHeight}";
        private readonly List<(string Model, int Owner, HashSet<int> Endorsers)> _models = [];
        private readonly List<string> _datasets = [];
        private readonly List<(string Round, HashSet<int> Pending)> _rounds = [];
        private int _counter;

        public TxSpec Next(ulong height, int index, double contractMix)
        {
            // Unique per (height, index): a ledger never repeats a transaction id.
            var nonce = checked(height * 1_000_000UL + (ulong)index);
            if (_rng.NextDouble() >= contractMix)
            {
                var h = _rng.Next(ledger.AppKeys.Count);
                var key = $"patient-{_rng.Next(50_000):D5}/record";
                var value = $"v{height}.{index}:{_rng.NextInt64():x16}";
                return new TxSpec(ledger.AppKeys[h], "kv", "put", [key, value], nonce);
            }
            return _rng.Next(8) == 0 ? Refused(nonce) : Call(nonce);
        }

        private TxSpec App(int hospital, string contract, string function, ulong nonce, params string[] args) =>
            new(ledger.AppKeys[hospital], contract, function, args, nonce);

        private TxSpec Call(ulong nonce)
        {
            var n = _counter++;
            switch (_rng.Next(6))
            {
                case 0 when _models.Count > 0:
                {
                    var (model, owner, endorsers) = _models[_rng.Next(_models.Count)];
                    var candidates = Enumerable.Range(0, ledger.AppKeys.Count).Where(h => h != owner && !endorsers.Contains(h)).ToList();
                    if (candidates.Count == 0) break;
                    var h = candidates[_rng.Next(candidates.Count)];
                    endorsers.Add(h);
                    return App(h, "models", "endorse", nonce, model, "1.0");
                }
                case 1:
                {
                    var h = _rng.Next(ledger.AppKeys.Count);
                    var action = $$"""{"agent":"ids-{{h}}","modelVersion":"iomt-detector:1.0","severity":"high","device":"pump-{{_rng.Next(100)}}","action":"isolate","evidenceSha256":"{{Weights}}"}""";
                    return App(h, "defense", "record", nonce, $"[{action}]");
                }
                case 2:
                {
                    var dataset = $"ds-{_tag}-{n}";
                    _datasets.Add(dataset);
                    return new TxSpec(ledger.RegulatorKey, "fl", "budget", [dataset, "100"], nonce);
                }
                case 3 when _datasets.Count > 0:
                {
                    var round = $"r-{_tag}-{n}";
                    var h = _rng.Next(ledger.AppKeys.Count);
                    var other = (h + 1 + _rng.Next(ledger.AppKeys.Count - 1)) % ledger.AppKeys.Count;
                    _rounds.Add((round, [h, other]));
                    return App(h, "fl", "open", nonce, round, _datasets[_rng.Next(_datasets.Count)], "fedavg",
                        $"{Hospitals[h]},{Hospitals[other]}");
                }
                case 4 when _rounds.Count > 0:
                {
                    var i = _rng.Next(_rounds.Count);
                    var (round, pending) = _rounds[i];
                    var h = pending.First();
                    pending.Remove(h);
                    if (pending.Count == 0) _rounds.RemoveAt(i);
                    return App(h, "fl", "submit", nonce, round, Weights, "0.5");
                }
                default:
                    break;
            }
            var registrant = _rng.Next(ledger.AppKeys.Count);
            var m = $"model-{_tag}-{n}";
            _models.Add((m, registrant, []));
            return App(registrant, "models", "register", nonce, m, "1.0", Weights, "", Metadata);
        }

        /// <summary>A call the contract refuses: it is committed, recorded as failed, and changes nothing.</summary>
        private TxSpec Refused(ulong nonce) => _rng.Next(3) switch
        {
            0 => new TxSpec(ledger.AuditorKey, "kv", "put", ["audit-note", "auditors are read-only"], nonce),
            1 => App(_rng.Next(ledger.AppKeys.Count), "fl", "open", nonce, $"r-none-{_tag}-{_counter++}", "no-budget-dataset", "fedavg",
                "hospital-a,hospital-b"),
            _ => App(_rng.Next(ledger.AppKeys.Count), "models", "endorse", nonce, "no-such-model", "1.0"),
        };
    }
}
