using System.Collections.Concurrent;
using System.Security.Cryptography;
using Chain.Accel;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;

namespace Chain.Ledger.Tests;

/// <summary>
/// Deterministic test data shared by the ledger tests: signing keys from fixed seeds, random ledger objects
/// drawn from a <see cref="Random"/> (so a failing case is reproduced from its seed), and a consortium
/// (<see cref="TestNetwork"/>) that signs real commit certificates.
/// </summary>
public static class TestData
{
    public const string ChainId = "test-chain";

    /// <summary>2023-11-14T22:13:20Z in Unix milliseconds.</summary>
    public const long GenesisTimestamp = 1_700_000_000_000;

    /// <summary>Every character an identifier may contain.</summary>
    public const string IdentifierAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

    /// <summary>How many of the keys <see cref="RandomTransaction"/> picks its senders from.</summary>
    public const int RandomSenderKeys = 16;

    // Key index ranges used by Network, so its keys never collide with the random senders (0..15).
    internal const int ValidatorKeyBase = 1000;
    internal const int ClientKeyBase = 2000;
    internal const int AuditorKeyIndex = 3000;
    internal const int RegulatorKeyIndex = 3001;

    private static readonly ConcurrentDictionary<int, SigningKey> KeyCache = new();

    /// <summary>The 32-byte seed of test key <paramref name="index"/>: SHA-256("chain-test-key-{index}").</summary>
    public static byte[] Seed(int index) =>
        SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"chain-test-key-{index}"));

    /// <summary>
    /// Test key <paramref name="index"/>, always the same key for the same index. The instance is shared and
    /// cached for the whole run: do not dispose it (use <see cref="NewKey"/> for one you own).
    /// </summary>
    public static SigningKey Key(int index) => KeyCache.GetOrAdd(index, i => SigningKey.FromSeed(Seed(i)));

    /// <summary>A fresh instance of test key <paramref name="index"/> that the caller owns and disposes.</summary>
    public static SigningKey NewKey(int index) => SigningKey.FromSeed(Seed(index));

    // ---- primitive random values ----

    public static byte[] RandomBytes(Random rng, int length)
    {
        var bytes = new byte[length];
        rng.NextBytes(bytes);
        return bytes;
    }

    /// <summary>A uniform u64, or (one time in eight) a boundary value.</summary>
    public static ulong RandomUInt64(Random rng) => rng.Next(8) == 0
        ? rng.Next(4) switch { 0 => 0UL, 1 => 1UL, 2 => ulong.MaxValue - 1, _ => ulong.MaxValue }
        : BitConverter.ToUInt64(RandomBytes(rng, 8));

    /// <summary>A uniform i64, or (one time in eight) a boundary value.</summary>
    public static long RandomInt64(Random rng) => rng.Next(8) == 0
        ? rng.Next(4) switch { 0 => 0L, 1 => -1L, 2 => long.MinValue, _ => long.MaxValue }
        : BitConverter.ToInt64(RandomBytes(rng, 8));

    /// <summary>A random 32-byte hash (one time in sixteen the zero hash).</summary>
    public static Hash32 RandomHash(Random rng) =>
        rng.Next(16) == 0 ? Hash32.Zero : Hash32.FromBytes(RandomBytes(rng, Hash32.Size));

    public static Signature RandomSignature(Random rng) => new(RandomBytes(rng, Signature.Size));

    /// <summary>A valid identifier of 1..<paramref name="maxBytes"/> characters, often at either bound.</summary>
    public static string RandomIdentifier(Random rng, int maxBytes = 64)
    {
        var length = rng.Next(6) switch { 0 => 1, 1 => maxBytes, _ => rng.Next(1, Math.Min(maxBytes, 24) + 1) };
        return string.Create(length, rng, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = IdentifierAlphabet[r.Next(IdentifierAlphabet.Length)];
        });
    }

    /// <summary>
    /// Random transaction arguments: usually 0..6 of them, sometimes exactly <paramref name="maxArguments"/>;
    /// each is empty a quarter of the time, else up to 64 bytes, or now and then up to 2 KiB.
    /// </summary>
    public static byte[][] RandomArgs(Random rng, int maxArguments = 64)
    {
        var count = rng.Next(10) == 0 ? maxArguments : rng.Next(0, Math.Min(maxArguments, 6) + 1);
        var args = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var length = rng.Next(4) == 0 ? 0 : rng.Next(20) == 0 ? rng.Next(2049) : rng.Next(1, 65);
            args[i] = RandomBytes(rng, length);
        }
        return args;
    }

    // ---- random ledger objects ----

    /// <summary>
    /// A random transaction within the default limits: random identifiers, arguments and nonce. Three times
    /// in four it is properly signed by <paramref name="key"/> (default: one of the first
    /// <see cref="RandomSenderKeys"/> test keys); otherwise it carries a random sender and random signature bytes.
    /// </summary>
    public static Transaction RandomTransaction(Random rng, SigningKey? key = null, string? chainId = null)
    {
        chainId ??= rng.Next(4) == 0 ? RandomIdentifier(rng) : ChainId;
        var contract = RandomIdentifier(rng);
        var function = RandomIdentifier(rng);
        var args = RandomArgs(rng).Select(a => (ReadOnlyMemory<byte>)a);
        var nonce = RandomUInt64(rng);
        if (key is null && rng.Next(4) == 0)
        {
            return Transaction.FromParts(chainId, contract, function, args,
                new PublicKey(RandomHash(rng)), nonce, RandomSignature(rng));
        }
        return Transaction.Create(chainId, contract, function, args, nonce, key ?? Key(rng.Next(RandomSenderKeys)));
    }

    /// <summary>A key-value "put" signed by <paramref name="key"/>: the everyday transaction of later tests.</summary>
    public static Transaction Put(SigningKey key, ulong nonce, string key1, string value, string chainId = ChainId) =>
        Transaction.Create(chainId, "kv", "put",
            [System.Text.Encoding.UTF8.GetBytes(key1), System.Text.Encoding.UTF8.GetBytes(value)], nonce, key);

    /// <summary>A random header that decodes (height at least 1); its root and count need not match any body.</summary>
    public static BlockHeader RandomHeader(Random rng)
    {
        var height = Math.Max(1, RandomUInt64(rng));
        return new BlockHeader(height, RandomHash(rng), RandomHash(rng),
            rng.Next(3) == 0 ? height - 1 : RandomUInt64(rng) % height, RandomHash(rng),
            (ushort)rng.Next(ushort.MaxValue + 1), RandomUInt64(rng), RandomInt64(rng),
            rng.Next(8) == 0 ? uint.MaxValue : (uint)rng.Next(int.MaxValue));
    }

    /// <summary>
    /// A random block of 0..<paramref name="maxTransactions"/> random transactions whose header commits to them.
    /// </summary>
    public static Block RandomBlock(Random rng, int maxTransactions = 5)
    {
        var txs = Enumerable.Range(0, rng.Next(maxTransactions + 1)).Select(_ => RandomTransaction(rng)).ToArray();
        var height = Math.Max(1, RandomUInt64(rng));
        var executed = rng.Next(3) == 0 ? height - 1 : RandomUInt64(rng) % height;
        return Block.Create(height, RandomHash(rng), executed, RandomHash(rng),
            (ushort)rng.Next(ushort.MaxValue + 1), RandomUInt64(rng), RandomInt64(rng), txs);
    }

    /// <summary>
    /// A random, well-formed but unsigned certificate: 0..<paramref name="maxSignatures"/> random signatures from
    /// distinct replica ids (always ascending in the certificate).
    /// </summary>
    public static CommitCertificate RandomCertificate(Random rng, int maxSignatures = 7, Hash32? blockHash = null,
        ulong? height = null)
    {
        var count = rng.Next(maxSignatures + 1);
        var replicas = new SortedSet<ushort>();
        if (count > 0 && rng.Next(8) == 0) replicas.Add(0);
        if (count > 1 && rng.Next(8) == 0) replicas.Add(ushort.MaxValue);
        while (replicas.Count < count)
            replicas.Add((ushort)(rng.Next(2) == 0 ? rng.Next(16) : rng.Next(ushort.MaxValue + 1)));
        var phase = rng.Next(2) == 0 ? CertificatePhase.Commit : CertificatePhase.FastPrepare;
        return new CommitCertificate(phase, height ?? RandomUInt64(rng), RandomUInt64(rng),
            blockHash ?? RandomHash(rng), replicas.Select(r => new ReplicaSignature(r, RandomSignature(rng))));
    }

    /// <summary>A random block with a random (unsigned) certificate naming its hash and height.</summary>
    public static CommittedBlock RandomCommittedBlock(Random rng, int maxTransactions = 5)
    {
        var block = RandomBlock(rng, maxTransactions);
        return new CommittedBlock(block, RandomCertificate(rng, blockHash: block.Hash, height: block.Height));
    }

    // ---- genesis and consortium ----

    /// <summary>
    /// A genesis document: hospitals "hospital-0".."hospital-{n-1}", hospital i running validator node i
    /// (key <c>Key(1000 + i)</c>, address 127.0.0.1:(7000 + i)) and <paramref name="clientsPerHospital"/> clients
    /// (key <c>Key(2000 + 100 i + j)</c>); then an auditor and a regulator with one client each (keys 3000, 3001).
    /// </summary>
    public static Genesis.Document GenesisDocument(int validators = 4, int clientsPerHospital = 1,
        string chainId = ChainId, long timestamp = GenesisTimestamp)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(validators);
        var orgs = new List<Genesis.OrganisationDocument>();
        for (var i = 0; i < validators; i++)
        {
            var node = new Genesis.NodeDocument((ushort)i, $"node-{i}", Key(ValidatorKeyBase + i).PublicKey.ToString(),
                $"127.0.0.1:{7000 + i}");
            var clients = Enumerable.Range(0, clientsPerHospital).Select(j => new Genesis.ClientDocument(
                $"client-{i}-{j}", Key(ClientKeyBase + 100 * i + j).PublicKey.ToString())).ToList();
            orgs.Add(new Genesis.OrganisationDocument($"hospital-{i}", $"Hospital {i}", Role.Hospital, [node],
                clients));
        }
        orgs.Add(new Genesis.OrganisationDocument("auditor", "The Auditor", Role.Auditor, [],
            [new Genesis.ClientDocument("audit-client", Key(AuditorKeyIndex).PublicKey.ToString())]));
        orgs.Add(new Genesis.OrganisationDocument("regulator", "The Regulator", Role.Regulator, [],
            [new Genesis.ClientDocument("regulator-client", Key(RegulatorKeyIndex).PublicKey.ToString())]));
        return new Genesis.Document(chainId, timestamp, orgs);
    }

    /// <summary>The JSON text of <see cref="GenesisDocument"/>.</summary>
    public static string GenesisJson(int validators = 4, int clientsPerHospital = 1, string chainId = ChainId) =>
        Genesis.FromDocument(GenesisDocument(validators, clientsPerHospital, chainId)).ToJson();

    /// <summary>
    /// A consortium of <paramref name="validators"/> hospitals with its genesis and every private key.
    /// </summary>
    public static TestNetwork Network(int validators = 4, int clientsPerHospital = 1, string chainId = ChainId,
        long timestamp = GenesisTimestamp) => new(validators, clientsPerHospital, chainId, timestamp);
}

/// <summary>
/// A test consortium (see <see cref="TestData.GenesisDocument"/>): its genesis, the validators' and clients'
/// private keys, and helpers that build blocks with real commit certificates. Keys are shared; do not dispose.
/// </summary>
public sealed class TestNetwork
{
    internal TestNetwork(int validators, int clientsPerHospital, string chainId, long timestamp)
    {
        Document = TestData.GenesisDocument(validators, clientsPerHospital, chainId, timestamp);
        Genesis = Genesis.FromDocument(Document);
        ValidatorKeys = Enumerable.Range(0, validators)
            .Select(i => TestData.Key(TestData.ValidatorKeyBase + i)).ToArray();
        ClientKeys = Enumerable.Range(0, validators).SelectMany(i => Enumerable.Range(0, clientsPerHospital)
            .Select(j => TestData.Key(TestData.ClientKeyBase + 100 * i + j))).ToArray();
        AuditorKey = TestData.Key(TestData.AuditorKeyIndex);
        RegulatorKey = TestData.Key(TestData.RegulatorKeyIndex);
    }

    public Genesis.Document Document { get; }
    public Genesis Genesis { get; }
    public string ChainId => Genesis.ChainId;
    public ValidatorSet Validators => Genesis.Validators;

    /// <summary>Validator keys indexed by replica id (replica i is run by hospital-i).</summary>
    public IReadOnlyList<SigningKey> ValidatorKeys { get; }

    /// <summary>The hospitals' client keys, hospital by hospital.</summary>
    public IReadOnlyList<SigningKey> ClientKeys { get; }

    public SigningKey AuditorKey { get; }
    public SigningKey RegulatorKey { get; }

    /// <summary>The signature replica <paramref name="replica"/> gives when voting for the block.</summary>
    public ReplicaSignature Vote(ushort replica, CertificatePhase phase, ulong height, ulong view, Hash32 blockHash) =>
        new(replica, ValidatorKeys[replica].Sign(CommitCertificate.VoteBytes(phase, height, view, blockHash)));

    /// <summary>A certificate for <paramref name="block"/> signed by the given replicas.</summary>
    public CommitCertificate Certify(Block block, IEnumerable<ushort> replicas,
        CertificatePhase phase = CertificatePhase.Commit, ulong view = 0) =>
        new(phase, block.Height, view, block.Hash,
            replicas.Select(r => Vote(r, phase, block.Height, view, block.Hash)));

    /// <summary>
    /// A certificate signed by replicas 0..signers-1; by default a quorum for <see cref="CertificatePhase.Commit"/>
    /// and all n for <see cref="CertificatePhase.FastPrepare"/>.
    /// </summary>
    public CommitCertificate Certify(Block block, int? signers = null, CertificatePhase phase = CertificatePhase.Commit,
        ulong view = 0)
    {
        var count = signers ?? (phase == CertificatePhase.FastPrepare ? Validators.Count : Validators.Quorum);
        return Certify(block, Enumerable.Range(0, count).Select(i => (ushort)i), phase, view);
    }

    /// <summary>Builds a block over <paramref name="transactions"/> and commits it with a quorum certificate.</summary>
    public CommittedBlock CommitBlock(ulong height, Hash32 previousHash, IReadOnlyList<Transaction> transactions,
        long? timestamp = null, Hash32 stateRoot = default, ulong view = 0, int? signers = null)
    {
        var proposer = (ushort)(view % (ulong)Validators.Count);
        var block = Block.Create(height, previousHash, 0, stateRoot, proposer, view,
            timestamp ?? Genesis.Timestamp + 1000 * (long)height, transactions);
        return new CommittedBlock(block, Certify(block, signers, CertificatePhase.Commit, view));
    }

    /// <summary>
    /// Blocks 1..<paramref name="blocks"/>: block 1's previous hash is the genesis hash, each later one the hash of
    /// the block before; each holds <paramref name="transactionsPerBlock"/> "kv.put" transactions from the clients
    /// (nonces counting up per client), timestamps one second apart. State roots are zero (no execution here).
    /// </summary>
    public IReadOnlyList<CommittedBlock> BuildChain(int blocks, int transactionsPerBlock = 2)
    {
        if (transactionsPerBlock > 0 && ClientKeys.Count == 0)
            throw new InvalidOperationException("this network has no client keys to sign transactions with");
        var chain = new List<CommittedBlock>();
        var nonces = new ulong[ClientKeys.Count];
        var previous = Genesis.Hash;
        for (var h = 1; h <= blocks; h++)
        {
            var txs = new List<Transaction>();
            for (var t = 0; t < transactionsPerBlock; t++)
            {
                var c = (h * transactionsPerBlock + t) % ClientKeys.Count;
                txs.Add(TestData.Put(ClientKeys[c], nonces[c]++, $"key-{h}-{t}", $"value-{h}-{t}", ChainId));
            }
            var committed = CommitBlock((ulong)h, previous, txs);
            chain.Add(committed);
            previous = committed.Block.Hash;
        }
        return chain;
    }
}
