using System.Text;
using Chain.Ledger;
using Chain.Accel;
using Chain.Ledger.Identity;
using Chain.Ledger.Merkle;
using Chain.Ledger.Model;
using Chain.Ledger.State;
using Chain.Ledger.Storage;
using Chain.Ledger.Validation;
using Chain.Chaincode;

namespace Chain.Testnet;

/// <summary>What a demo run did and what its audit found.</summary>
internal sealed record DemoReport(ulong StartHeight, ulong EndHeight, int Committed, int Rejected,
    Hash32 StateRoot, IReadOnlyList<string> AuditProblems);

/// <summary>
/// The single-node ledger demo: one hospital validator (n = 1, quorum 1) on RocksDB. It creates keys and
/// a genesis on first use, signs device-telemetry transactions for a built-in key-value contract, checks
/// them as a node would at admission (a forged and an unknown-contract transaction are shown being
/// refused), executes them, commits blocks with a signed certificate, then reopens the store and audits
/// it from genesis: hash links, transaction roots, certificates, signatures, and a Merkle and a state proof.
/// No patient data: keys and values are device ids and counters.
/// </summary>
internal static class LedgerDemo
{
    internal const string ChainId = "demo-consortium";

    public static DemoReport Run(string dir, int blocks, int txsPerBlock, TextWriter output)
    {
        var genesis = EnsureInitialised(dir, output);
        using var nodeKey = KeyFile.Load(Path.Combine(dir, "keys", "node0.key"));
        using var clientKey = KeyFile.Load(Path.Combine(dir, "keys", "hospital-a-app.key"));
        using var outsider = SigningKey.Generate();
        var runtime = new ChaincodeRuntime(SystemContracts.Registry(), genesis);
        var validator = new TransactionValidator(genesis, runtime.Registry.Ids);

        ulong start, end;
        int committed = 0, rejected = 0;
        using (var store = RocksDbLedgerStore.Open(Path.Combine(dir, "ledger"), genesis))
        {
            start = store.Height;
            output.WriteLine($"opened ledger at height {start} (state root {store.StateRoot.Short})");
            rejected += ShowRefusals(validator, clientKey, outsider, output);
            var timestamp = Math.Max(genesis.Timestamp, store.GetBlock(store.Height)?.Block.Header.Timestamp ?? 0);
            for (var b = 0; b < blocks; b++)
            {
                var height = store.Height + 1;
                var txs = new List<Transaction>(txsPerBlock);
                for (var i = 0; i < txsPerBlock; i++)
                {
                    var device = $"device-{(int)(height * 7 + (ulong)i) % 500:D3}";
                    var tx = Transaction.Create(ChainId, "kv", "put",
                        [Encoding.UTF8.GetBytes($"telemetry/{device}/last-block"), Encoding.UTF8.GetBytes(height.ToString())],
                        height * 1_000_000 + (ulong)i, clientKey);
                    var verdict = validator.Check(tx);
                    if (verdict.IsAccepted) txs.Add(tx);
                    else rejected++;
                }
                timestamp = Math.Max(timestamp + 1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                var block = Block.Create(height, store.TipHash, store.Height, store.StateRoot, 0, 0, timestamp, txs);
                var vote = CommitCertificate.VoteBytes(CertificatePhase.Commit, height, 0, block.Hash);
                var cert = new CommitCertificate(CertificatePhase.Commit, height, 0, block.Hash,
                    [new ReplicaSignature(0, nodeKey.Sign(vote))]);
                store.Commit(new CommittedBlock(block, cert), runtime.Execute(block, new StoreStateView(store)).Writes);
                committed += txs.Count;
            }
            end = store.Height;
            output.WriteLine($"committed {blocks} blocks, {committed} transactions; height {end}");
        }

        using var reopened = RocksDbLedgerStore.Open(Path.Combine(dir, "ledger"), genesis);
        output.WriteLine($"reopened: height {reopened.Height}, state root {reopened.StateRoot.Short}");
        var problems = Audit(reopened, genesis, output);
        output.WriteLine(problems.Count == 0 ? "audit: OK" : $"audit: {problems.Count} problems");
        foreach (var p in problems) output.WriteLine("  " + p);
        return new DemoReport(start, end, committed, rejected, reopened.StateRoot, problems);
    }

    private static int ShowRefusals(TransactionValidator validator, SigningKey client, SigningKey outsider, TextWriter output)
    {
        var unknown = Transaction.Create(ChainId, "billing", "charge", [], 1, client);
        var stranger = Transaction.Create(ChainId, "kv", "put", [new byte[] { 1 }, new byte[] { 2 }], 1, outsider);
        var good = Transaction.Create(ChainId, "kv", "put", [new byte[] { 1 }, new byte[] { 2 }], 2, client);
        var forged = Transaction.FromParts(ChainId, "kv", "put", [new byte[] { 1 }, new byte[] { 3 }],
            client.PublicKey, 2, good.Signature);
        var refused = 0;
        foreach (var (what, tx) in new[] { ("unknown contract", unknown), ("unknown sender", stranger), ("forged", forged) })
        {
            var verdict = validator.Check(tx);
            output.WriteLine($"admission check, {what}: {(verdict.IsAccepted ? "accepted (unexpected!)" : verdict.Error + ": " + verdict.Message)}");
            if (!verdict.IsAccepted) refused++;
        }
        return refused;
    }

    /// <summary>Checks every block from genesis; returns the problems found (none on an honest ledger).</summary>
    internal static List<string> Audit(ILedgerStore store, Genesis genesis, TextWriter output)
    {
        var problems = new List<string>();
        var previous = genesis.Hash;
        var previousTime = genesis.Timestamp;
        CommittedBlock? last = null;
        for (ulong h = 1; h <= store.Height; h++)
        {
            CommittedBlock committed;
            try
            {
                committed = store.GetBlock(h) ?? throw new LedgerException(LedgerError.StoreCorrupt, "missing");
            }
            catch (LedgerException e)
            {
                problems.Add($"block {h}: {e.Message}");
                break;
            }
            var header = committed.Block.Header;
            if (header.PreviousHash != previous) problems.Add($"block {h}: does not link to block {h - 1}");
            if (header.Timestamp <= previousTime) problems.Add($"block {h}: timestamp not after its parent's");
            if (committed.Certificate.Check(committed.Block.Hash, h, genesis.Validators) is { } why)
                problems.Add($"block {h}: certificate: {why}");
            foreach (var tx in committed.Block.Transactions.Where(t => !t.VerifySignature()))
                problems.Add($"block {h}: transaction {tx.Id.Short} has a bad signature");
            previous = committed.Block.Hash;
            previousTime = header.Timestamp;
            last = committed;
        }
        if (last is { Block.Transactions.Count: > 0 })
        {
            var block = last.Block;
            var index = block.Transactions.Count / 2;
            var proof = block.ProveTransaction(index);
            var ok = MerkleTree.Verify(block.Header.TxRoot, MerkleTree.LeafHash(block.Transactions[index].Encoded), proof);
            output.WriteLine($"Merkle proof of tx {block.Transactions[index].Id.Short} in block {block.Height}: " +
                $"{proof.Siblings.Count} hashes, {(ok ? "valid" : "INVALID")}");
            if (!ok) problems.Add("Merkle proof failed");
            var key = (byte[])[.. "kv/"u8, .. block.Transactions[index].Args[0].Span];
            var entry = store.GetState(key);
            var stateProof = store.ProveState(key);
            var valid = entry is not null && stateProof.VerifyInclusion(store.StateRoot,
                SparseMerkleTree.ValueDigest(entry.Version, entry.Value));
            output.WriteLine($"state proof of '{Encoding.UTF8.GetString(key)}' = '{Encoding.UTF8.GetString(entry?.Value ?? [])}' " +
                $"(version {entry?.Version}): {stateProof.Siblings.Count} hashes, {(valid ? "valid" : "INVALID")}");
            if (!valid) problems.Add("state proof failed");
        }
        return problems;
    }

    private static Genesis EnsureInitialised(string dir, TextWriter output)
    {
        var genesisPath = Path.Combine(dir, "genesis.json");
        if (File.Exists(genesisPath)) return Genesis.LoadFile(genesisPath);
        var keys = Path.Combine(dir, "keys");
        Directory.CreateDirectory(keys);
        var node = KeyFile.Generate(Path.Combine(keys, "node0.key"), "hospital-a node 0");
        var app = KeyFile.Generate(Path.Combine(keys, "hospital-a-app.key"), "hospital-a telemetry app");
        var auditor = KeyFile.Generate(Path.Combine(keys, "auditor.key"), "auditor");
        var doc = new Genesis.Document(ChainId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        [
            new("hospital-a", "Hospital A", Role.Hospital,
                [new Genesis.NodeDocument(0, "node0", node.ToString(), "127.0.0.1:7000")],
                [new Genesis.ClientDocument("telemetry-app", app.ToString())]),
            new("audit-office", "Audit Office", Role.Auditor, [], [new Genesis.ClientDocument("auditor", auditor.ToString())]),
        ]);
        var genesis = Genesis.FromDocument(doc);
        File.WriteAllText(genesisPath, genesis.ToJson());
        output.WriteLine($"created {genesisPath} (chain '{ChainId}', genesis {genesis.Hash.Short}) and keys in {keys}");
        return genesis;
    }
}
