using System.Text;
using Chain.Accel;
using Chain.Api.Tls;
using Chain.Api.V1;
using Chain.Ledger.Identity;
using Chain.Ledger.Merkle;
using Chain.Ledger.Model;
using Chain.Ledger.State;
using Chain.Testnet.Load;
using Google.Protobuf;

namespace Chain.Testnet.Cluster;

/// <summary>
/// <c>testnet start</c>, the README's main command: brings up the local consortium (4 hospital nodes by default),
/// runs a demo workload of signed device-telemetry writes, shows a hospital reading a transaction back from
/// another hospital's node and checking it locally (Merkle proof to the block header, commit certificate against
/// the genesis keys) and a state value with its proof, crashes one node, keeps going, restarts it and shows it
/// caught up; then the system contracts in use (<see cref="ContractsDemo"/>). The cluster keeps running afterwards ('testnet status', 'testnet down').
/// </summary>
internal static class ClusterDemo
{
    public static async Task<int> RunAsync(ClusterControl control, int nodes, int basePort, int seconds, int rate, TextWriter output,
        CancellationToken cancellation)
    {
        var layout = control.Layout;
        if (await control.UpAsync(nodes, basePort, ClusterControl.StartTimeout, cancellation).ConfigureAwait(false) != 0) return 1;
        var manifest = Manifest.Load(layout);
        var genesis = Genesis.LoadFile(layout.Absolute(manifest.Genesis));

        output.WriteLine();
        output.WriteLine($"== demo workload: {rate} signed telemetry writes per second for {seconds} s, spread over every node");
        using (var submitter = new GrpcSubmitter(layout, manifest, null, TimeSpan.FromSeconds(15)))
        {
            await submitter.WarmUpAsync(cancellation).ConfigureAwait(false);
            var runner = new LoadRunner(submitter, Console.Error, !Console.IsErrorRedirected);
            foreach (var line in (await runner.OpenLoopAsync(rate, TimeSpan.FromSeconds(seconds), cancellation).ConfigureAwait(false)).Describe())
                output.WriteLine(line);

            var victim = manifest.Nodes[^1].Id;
            output.WriteLine();
            output.WriteLine($"== crash: SIGKILL node {victim}; the others keep committing " +
                $"(the load aimed at node {victim} fails with 'Unavailable' while it is down: a client would retry elsewhere)");
            await control.KillAsync(victim, cancellation).ConfigureAwait(false);
            foreach (var line in (await runner.OpenLoopAsync(rate, TimeSpan.FromSeconds(Math.Max(3, seconds / 2)), cancellation)
                         .ConfigureAwait(false)).Describe())
                output.WriteLine(line);
            output.WriteLine($"== restart node {victim}: it recovers its consensus state and fetches the blocks it missed");
            await control.RestartAsync(victim, ClusterControl.StartTimeout, cancellation).ConfigureAwait(false);
        }

        var app = manifest.Clients.First(c => c.IsLoadClient);
        var dir = layout.Absolute(app.Dir);
        var tls = MutualTls.Load(Path.Combine(dir, "tls.crt"), Path.Combine(dir, "tls.key"), manifest.TrustedCas(layout));
        using var key = KeyFile.Load(Path.Combine(dir, "signing.key"));
        using var first = tls.CreateChannel(manifest.Nodes[0].Listen);
        using var second = tls.CreateChannel(manifest.Nodes[Math.Min(1, manifest.Nodes.Count - 1)].Listen);
        var writer = new Api.V1.Ledger.LedgerClient(first);
        var reader = new Api.V1.Ledger.LedgerClient(second);

        output.WriteLine();
        var device = "telemetry/infusion-pump-0042/status";
        var tx = Transaction.Create(genesis.ChainId, "kv", "put", [Encoding.UTF8.GetBytes(device), "ok"u8.ToArray()],
            (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), key);
        var submitted = await writer.SubmitAsync(new SubmitRequest { Transaction = ByteString.CopyFrom(tx.Encoded), WaitForCommit = true },
            cancellationToken: cancellation);
        output.WriteLine($"== {app.Name} wrote {device} through node {manifest.Nodes[0].Id}: {submitted.Status} in block {submitted.Height}");
        var problems = await VerifyAsync(reader, genesis, tx.Id, Encoding.UTF8.GetBytes("kv/" + device), output, cancellation).ConfigureAwait(false);

        output.WriteLine();
        output.WriteLine($"== waiting for node {manifest.Nodes[^1].Id} to catch up");
        var converged = await WaitConvergedAsync(control, cancellation).ConfigureAwait(false);
        await control.StatusAsync(cancellation).ConfigureAwait(false);
        output.WriteLine(converged ? "every node holds the same tip" : "nodes have not converged yet (see 'testnet status')");

        var contracts = await ContractsDemo.RunAsync(layout, output, cancellation).ConfigureAwait(false);
        output.WriteLine();
        output.WriteLine($"metrics: http://127.0.0.1:{manifest.Nodes[0].MetricsPort}/metrics   stop: testnet down --dir {layout.Root}");
        return problems == 0 && converged && contracts.All(c => c.Ok) ? 0 : 1;
    }

    /// <summary>Reads the transaction and the state back and checks every proof locally; returns the number of failures.</summary>
    private static async Task<int> VerifyAsync(Api.V1.Ledger.LedgerClient reader, Genesis genesis, Hash32 txId, byte[] stateKey, TextWriter output,
        CancellationToken cancellation)
    {
        var problems = 0;
        void Check(bool ok, string what)
        {
            output.WriteLine($"   {(ok ? "ok  " : "FAIL")} {what}");
            if (!ok) problems++;
        }
        var got = await reader.GetTransactionAsync(new GetTransactionRequest { TxId = txId.ToString() }, cancellationToken: cancellation);
        output.WriteLine($"== read back from another hospital's node: transaction {txId.Short} in block {got.Height}");
        var header = BlockHeader.Decode(got.BlockHeader.Span);
        var leaf = MerkleTree.LeafHash(got.Transaction.Span);
        var proof = new Ledger.Merkle.MerkleProof((int)got.Proof.Index, (int)got.Proof.LeafCount,
            [.. got.Proof.Siblings.Select(s => Hash32.FromBytes(s.Span))]);
        Check(Transaction.Decode(got.Transaction.Span).Id == txId, "the transaction bytes hash to its id");
        Check(MerkleTree.Verify(header.TxRoot, leaf, proof), "Merkle proof leads to the block header's transaction root");
        var certificate = CommitCertificate.Decode(got.CommitCertificate.Span);
        Check(certificate.Check(header.Hash(), header.Height, genesis.Validators) is null,
            $"commit certificate: {certificate.Signatures.Count} of {genesis.Validators.Count} validator signatures over the header hash");
        var state = await reader.QueryStateAsync(new QueryStateRequest { Key = ByteString.CopyFrom(stateKey) }, cancellationToken: cancellation);
        var stateProof = StateProof.Decode(state.Proof.Span);
        var root = Hash32.FromBytes(state.StateRoot.Span);
        Check(state.Found && stateProof.VerifyInclusion(root, SparseMerkleTree.ValueDigest(state.Version, state.Value.Span)),
            $"state '{Encoding.UTF8.GetString(stateKey)}' = '{state.Value.ToStringUtf8()}' (written at height {state.Version}) proven against state root {root.Short}");
        return problems;
    }

    private static async Task<bool> WaitConvergedAsync(ClusterControl control, CancellationToken cancellation)
    {
        var manifest = Manifest.Load(control.Layout);
        using var client = new NodeStatusClient(control.Layout, manifest);
        for (var attempt = 0; attempt < 60; attempt++)
        {
            var rows = await control.RowsAsync(manifest, client, cancellation).ConfigureAwait(false);
            var tips = rows.Select(r => r.Probe?.Status?.TipHash).ToList();
            if (tips.All(t => t is not null) && tips.Distinct().Count() == 1) return true;
            await Task.Delay(500, cancellation).ConfigureAwait(false);
        }
        return false;
    }
}
