using System.Text;
using Chain.Accel;
using Chain.Chaincode;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Client.Tests;

/// <summary>
/// A six-organisation consortium (hospital-a..d, an auditor, a regulator) over an in-memory ledger that executes every
/// transaction through the real runtime and system contracts, one block per transaction. <see cref="Reader"/> reads it
/// the way the CLI reads a copied data directory.
/// </summary>
public sealed class LedgerFixture : IDisposable
{
    public const string ChainId = "client-test";

    private static SigningKey Key(byte b) => SigningKey.FromSeed(Enumerable.Repeat(b, 32).ToArray());

    public static readonly SigningKey A = Key(41), B = Key(42), C = Key(43), D = Key(44), Auditor = Key(45), Regulator = Key(46), Node0 = Key(40);

    public static readonly Genesis Genesis = Genesis.FromDocument(new Genesis.Document(ChainId, 1_000,
    [
        new Genesis.OrganisationDocument("hospital-a", "A", Role.Hospital,
            [new Genesis.NodeDocument(0, "node-0", Node0.PublicKey.ToString(), "127.0.0.1:1")], [new Genesis.ClientDocument("a", A.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("hospital-b", "B", Role.Hospital, null, [new Genesis.ClientDocument("b", B.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("hospital-c", "C", Role.Hospital, null, [new Genesis.ClientDocument("c", C.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("hospital-d", "D", Role.Hospital, null, [new Genesis.ClientDocument("d", D.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("auditor", "Auditor", Role.Auditor, null, [new Genesis.ClientDocument("aud", Auditor.PublicKey.ToString())]),
        new Genesis.OrganisationDocument("regulator", "Regulator", Role.Regulator, null, [new Genesis.ClientDocument("reg", Regulator.PublicKey.ToString())]),
    ]));

    private readonly ChaincodeRuntime _runtime = new(SystemContracts.Registry(), Genesis);
    private ulong _nonce;

    public InMemoryLedgerStore Store { get; } = InMemoryLedgerStore.Create(Genesis);

    public IStateReader Reader => new StoreStateReader(Store);

    /// <summary>The block timestamp the next transaction gets (ms); tests may move it to test time-range queries.</summary>
    public long NextTimestamp { get; set; } = 2_000;

    public Transaction Tx(SigningKey key, string contract, string function, params string[] args) =>
        Transaction.Create(ChainId, contract, function, [.. args.Select(a => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(a))], ++_nonce, key);

    /// <summary>Executes one transaction in its own block and commits it; returns its outcome.</summary>
    public TxOutcome Run(Transaction tx)
    {
        var block = Block.Create(Store.Height + 1, Store.TipHash, Store.Height, Store.StateRoot, 0, 0, NextTimestamp++, [tx]);
        var result = _runtime.Execute(block, new StoreStateView(Store));
        var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, block.Height, 0, block.Hash);
        Store.Commit(new CommittedBlock(block, new CommitCertificate(CertificatePhase.Commit, block.Height, 0, block.Hash,
            [new ReplicaSignature(0, Node0.Sign(vote))])), result.Writes);
        return result.Outcomes[0];
    }

    public TxOutcome Run(SigningKey key, string contract, string function, params string[] args) => Run(Tx(key, contract, function, args));

    /// <summary>Runs a transaction that must succeed.</summary>
    public void Ok(SigningKey key, string contract, string function, params string[] args)
    {
        var o = Run(key, contract, function, args);
        Assert.True(o.Success, o.Error);
    }

    public void Dispose() => Store.Dispose();
}
