using Chain.Ledger;
using System.Text;
using System.Text.Json;
using Chain.Accel;
using Chain.Chaincode.Contracts;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Chaincode.Tests;

/// <summary>A five-organisation genesis, an in-memory ledger and one transaction per block, for contract tests.</summary>
public abstract class ContractHarness : IDisposable
{
    protected static SigningKey Key(byte b) => SigningKey.FromSeed(Enumerable.Repeat(b, 32).ToArray());

    protected static readonly SigningKey A = Key(31), B = Key(32), C = Key(33), Auditor = Key(34), Regulator = Key(35), Node0 = Key(30);
    private static readonly Genesis Genesis = Chain.Ledger.Identity.Genesis.FromDocument(new Genesis.Document("models-test", 1_000,
    [
        new Genesis.OrganisationDocument("hospital-a", "A", Role.Hospital,
            [new Genesis.NodeDocument(0, "node-0", Node0.PublicKey.ToString(), "127.0.0.1:1")], [new Genesis.ClientDocument("a", A.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("hospital-b", "B", Role.Hospital, null, [new Genesis.ClientDocument("b", B.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("hospital-c", "C", Role.Hospital, null, [new Genesis.ClientDocument("c", C.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("auditor", "Auditor", Role.Auditor, null, [new Genesis.ClientDocument("aud", Auditor.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("regulator", "Regulator", Role.Regulator, null, [new Genesis.ClientDocument("reg", Regulator.PublicKey.ToString())]),
    ]));

    protected const string Weights = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    protected const string Metadata = """{"datasetFingerprint":"sha256:ab12","metrics":{"auc":0.97,"f1":0.91},"epsilon":1.5}""";

    protected readonly InMemoryLedgerStore _store = InMemoryLedgerStore.Create(Genesis);
    private readonly ChaincodeRuntime _runtime = new(new ContractRegistry().Register(new ModelAttestationContract())
        .Register(new DefenseLogContract()).Register(new FederatedRoundContract()).Register(new ShareCustodyContract()), Genesis);
    private ulong _nonce;

    protected abstract string Contract { get; }

    public void Dispose()
    {
        _store.Dispose();
        GC.SuppressFinalize(this);
    }

    protected Transaction Tx(SigningKey key, string function, params string[] args) =>
        Transaction.Create("models-test", Contract, function, [.. args.Select(a => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(a))], ++_nonce, key);

    /// <summary>Executes one transaction in its own block and commits it; returns its outcome.</summary>
    protected TxOutcome Run(Transaction tx)
    {
        var block = Block.Create(_store.Height + 1, _store.TipHash, _store.Height, _store.StateRoot, 0, 0, 2_000 + (long)_store.Height, [tx]);
        var result = _runtime.Execute(block, new StoreStateView(_store));
        var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, block.Height, 0, block.Hash);
        _store.Commit(new CommittedBlock(block, new CommitCertificate(CertificatePhase.Commit, block.Height, 0, block.Hash,
            [new ReplicaSignature(0, Node0.Sign(vote))])), result.Writes);
        return result.Outcomes[0];
    }

    /// <summary>Runs a transaction that must succeed, then replays it: the ledger refuses the replay and nothing changes.</summary>
    protected void Ok(Transaction tx)
    {
        var o = Run(tx);
        Assert.True(o.Success, o.Error);
        var before = ContractState();
        var (height, root) = (_store.Height, _store.StateRoot);
        var replay = Assert.Throws<LedgerException>(() => Run(tx));
        Assert.Equal(LedgerError.DuplicateTransaction, replay.Error);
        Assert.Equal((height, root), (_store.Height, _store.StateRoot));
        Assert.Equal(before, ContractState());
    }

    protected void Refused(Transaction tx, string message)
    {
        var before = ContractState();
        var o = Run(tx);
        Assert.False(o.Success);
        Assert.Contains(message, o.Error, StringComparison.Ordinal);
        Assert.Equal(before, ContractState()); // state unchanged after a failure (only the block's results were added)
        var results = BlockResults.Decode(_store.GetState(BlockResults.Key(_store.Height))!.Value);
        Assert.Equal(o, results.Single(), OutcomeComparer.Instance); // the failure is recorded with the block
    }

    /// <summary>Every state entry but the runtime's per-block results, as "key=value" lines.</summary>
    protected List<string> ContractState() =>
        [.. _store.ScanState([]).Where(kv => !kv.Key.AsSpan().StartsWith("$results/"u8))
            .Select(kv => Convert.ToHexString(kv.Key) + "=" + Convert.ToHexString(kv.Value.Value))];

    private sealed class OutcomeComparer : IEqualityComparer<TxOutcome>
    {
        public static OutcomeComparer Instance { get; } = new();

        public bool Equals(TxOutcome? x, TxOutcome? y) => x is not null && y is not null && x.TxId == y.TxId &&
            x.Success == y.Success && x.Error == y.Error && x.Steps == y.Steps && x.Events.Count == y.Events.Count;

        public int GetHashCode(TxOutcome obj) => obj.TxId.GetHashCode();
    }

    protected byte[]? State(string key) => _store.GetState(Encoding.UTF8.GetBytes($"{Contract}/{key}"))?.Value;
}

public sealed class ModelAttestationTests : ContractHarness
{
    protected override string Contract => "models";

    private ModelVersion Read(string model, string version) =>
        JsonSerializer.Deserialize<ModelVersion>(_store.GetState(Encoding.UTF8.GetBytes("models/" + ModelAttestationContract.VersionKey(model, version)))!.Value,
            ContractArgs.Json)!;

    [Fact]
    public void A_version_is_approved_after_k_endorsements_from_other_hospitals_and_can_be_revoked()
    {
        Ok(Tx(A, "register", "iomt-detector", "1.0", Weights, "", Metadata));
        Assert.Equal("pending", Read("iomt-detector", "1.0").Status);
        Assert.Equal(1.5m, Read("iomt-detector", "1.0").Metadata.Epsilon);
        Refused(Tx(A, "endorse", "iomt-detector", "1.0"), "its own model version");
        Ok(Tx(B, "endorse", "iomt-detector", "1.0"));
        Refused(Tx(B, "endorse", "iomt-detector", "1.0"), "already endorsed");
        Assert.Equal("pending", Read("iomt-detector", "1.0").Status);
        Ok(Tx(C, "endorse", "iomt-detector", "1.0"));
        var approved = Read("iomt-detector", "1.0");
        Assert.Equal("approved", approved.Status);
        Assert.Equal(["hospital-b", "hospital-c"], approved.Endorsements);
        Ok(Tx(A, "register", "iomt-detector", "1.1", Weights.Replace('0', '1'), "1.0", Metadata));
        Assert.Equal("1.0", Read("iomt-detector", "1.1").Parent);
        Refused(Tx(B, "revoke", "iomt-detector", "1.0", "drift"), "training hospital or the regulator");
        Ok(Tx(Regulator, "revoke", "iomt-detector", "1.0", "performance drift on site B"));
        Assert.Equal("revoked", Read("iomt-detector", "1.0").Status);
        Refused(Tx(B, "endorse", "iomt-detector", "1.0"), "revoked");
    }

    [Fact]
    public void The_owner_or_the_regulator_sets_the_policy()
    {
        Ok(Tx(A, "register", "m", "1", Weights, "", Metadata));
        Refused(Tx(B, "policy", "m", "1"), "owner or the regulator");
        Refused(Tx(A, "policy", "m", "zero"), "whole number");
        Ok(Tx(A, "policy", "m", "1"));
        Ok(Tx(B, "endorse", "m", "1"));
        Assert.Equal("approved", Read("m", "1").Status);
        Ok(Tx(Regulator, "policy", "m", "3"));
    }

    [Theory]
    [InlineData("register", new[] { "m", "1", Weights, "" }, "usage: register")]
    [InlineData("register", new[] { "m", "1", "not-hex", "", Metadata }, "64 lowercase hex")]
    [InlineData("register", new[] { "m/x", "1", Weights, "", Metadata }, "model must be")]
    [InlineData("register", new[] { "m", "1", Weights, "0.9", Metadata }, "parent version 0.9")]
    [InlineData("register", new[] { "m", "1", Weights, "", "{not json" }, "not valid JSON")]
    [InlineData("register", new[] { "m", "1", Weights, "", """{"datasetFingerprint":"x","metrics":{},"epsilon":1,"patient":"x"}""" }, "not valid JSON")]
    [InlineData("register", new[] { "m", "1", Weights, "", """{"datasetFingerprint":"x","metrics":{},"epsilon":-1}""" }, "epsilon")]
    [InlineData("endorse", new[] { "m", "9" }, "not registered")]
    [InlineData("launch", new[] { "m" }, "no function 'launch'")]
    public void Malformed_calls_are_refused_with_a_clear_message(string function, string[] args, string message) =>
        Refused(Tx(A, function, args), message);

    [Fact]
    public void Auditors_and_regulators_cannot_register_and_a_version_cannot_be_registered_twice()
    {
        Refused(Tx(Auditor, "register", "m", "1", Weights, "", Metadata), "read-only");
        Refused(Tx(Regulator, "register", "m", "1", Weights, "", Metadata), "only hospitals");
        Ok(Tx(A, "register", "m", "1", Weights, "", Metadata));
        Refused(Tx(B, "register", "m", "1", Weights, "", Metadata), "already registered");
        Refused(Tx(B, "register", "m", "2", Weights, "", Metadata), "must name its parent");
    }
}
