using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Chain.Accel;
using Chain.Api.V1;
using Chain.Ledger.Merkle;
using Chain.Ledger.Model;
using Google.Protobuf;
using Grpc.Core;

namespace Chain.Node.Tests.Cluster;

/// <summary>One node's ledger as read back block by block over the API (every block verified on the way).</summary>
internal sealed record LedgerScan(int Node, ulong Height, IReadOnlyList<string> BlockHashes, IReadOnlyDictionary<string, ulong> TxHeights,
    IReadOnlyList<BlockHeader> Headers, IReadOnlyList<string> Problems);

/// <summary>Bounded waits and the checks every cluster test ends with.</summary>
internal static class LedgerChecks
{
    /// <summary>Polls <paramref name="probe"/> until it reports done or <paramref name="timeout"/> passes (then fails with its last state).</summary>
    public static async Task<string> WaitUntilAsync(TestCluster cluster, string what, TimeSpan timeout,
        Func<Task<(bool Done, string State)>> probe, TimeSpan? interval = null)
    {
        var clock = Stopwatch.StartNew();
        var state = "";
        for (var round = 0; round < 100_000; round++)
        {
            (var done, state) = await probe();
            if (done)
            {
                cluster.Log.Line($"{what}: after {clock.Elapsed.TotalSeconds:0.0} s");
                return state;
            }
            if (clock.Elapsed > timeout) break;
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(500));
        }
        Assert.Fail($"{what}: not within {timeout.TotalSeconds:0} s. Last state:\n{state}\n{cluster.LogTails()}");
        return state;
    }

    /// <summary>Polls until the height of each of <paramref name="nodes"/> is at least <paramref name="height"/>.</summary>
    public static Task<string> WaitForHeightAsync(TestCluster cluster, IReadOnlyList<int> nodes, ulong height, TimeSpan timeout) =>
        WaitUntilAsync(cluster, $"node(s) {string.Join(',', nodes)} at height >= {height}", timeout, async () =>
        {
            var probes = await cluster.StatusesAsync(nodes);
            return (probes.All(p => p.Status?.Height >= height), Describe(probes));
        });

    public static string Describe(IEnumerable<Probe> probes) => string.Join("\n", probes.Select(p => "  " + p));

    /// <summary>
    /// Waits until <paramref name="nodes"/> hold the same ledger: same height, tip hash and state root, empty mempools,
    /// twice in a row a second apart (so nothing is still moving). Returns whether they did and the last statuses.
    /// </summary>
    public static async Task<(bool Converged, Probe[] Probes)> ConvergeAsync(TestCluster cluster, IReadOnlyList<int> nodes, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        string? previous = null;
        Probe[] probes = [];
        // Nothing at all changing (heights, tips, mempools) for this long while not converged: stuck, stop waiting.
        var stall = TimeSpan.FromSeconds(20);
        var (lastState, lastChange) = ("", TimeSpan.Zero);
        for (var round = 0; round < 10_000 && clock.Elapsed <= timeout; round++)
        {
            probes = await cluster.StatusesAsync(nodes);
            var agreed = probes.All(p => p.Status is { MempoolSize: 0 }) &&
                         probes.Select(p => (p.Status!.Height, p.Status.TipHash, p.Status.StateRoot)).Distinct().Count() == 1;
            var key = agreed ? $"{probes[0].Status!.Height}/{probes[0].Status!.TipHash}" : null;
            if (agreed && key == previous)
            {
                cluster.Log.Line($"ledgers converged after {clock.Elapsed.TotalSeconds:0.0} s: height {probes[0].Status!.Height}, " +
                    $"tip {probes[0].Status!.TipHash[..8]}");
                return (true, probes);
            }
            previous = key;
            var state = string.Join('|', probes.Select(p => $"{p.Status?.Height}/{p.Status?.TipHash}/{p.Status?.MempoolSize}"));
            if (state != lastState) (lastState, lastChange) = (state, clock.Elapsed);
            else if (clock.Elapsed - lastChange > stall) break;
            await Task.Delay(agreed ? 1000 : 500);
        }
        cluster.Log.Line($"ledgers NOT converged ({(clock.Elapsed > timeout ? $"within {timeout.TotalSeconds:0} s" : $"nothing changed for {stall.TotalSeconds:0} s")}):\n{Describe(probes)}");
        return (false, probes);
    }

    /// <summary>
    /// Waits until <paramref name="nodes"/> take part in the same view: none in a view change, one view, one primary.
    /// A replica whose ledger caught up only by state transfer while it sits in a view change of its own does not
    /// vote: the cluster then runs on the others and tolerates no further fault.
    /// </summary>
    public static async Task<(bool Agreed, Probe[] Probes)> SameViewAsync(TestCluster cluster, IReadOnlyList<int> nodes, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        Probe[] probes = [];
        for (var round = 0; round < 10_000 && clock.Elapsed <= timeout; round++)
        {
            probes = await cluster.StatusesAsync(nodes);
            if (probes.All(p => p.Status is { InViewChange: false }) &&
                probes.Select(p => (p.Status!.View, p.Status.Primary)).Distinct().Count() == 1)
            {
                cluster.Log.Line($"all in view {probes[0].Status!.View} (primary {probes[0].Status!.Primary}) after {clock.Elapsed.TotalSeconds:0.0} s");
                return (true, probes);
            }
            await Task.Delay(500);
        }
        cluster.Log.Line($"views NOT agreed within {timeout.TotalSeconds:0} s:\n{Describe(probes)}");
        return (false, probes);
    }

    /// <summary>
    /// Reads blocks 1..<paramref name="height"/> from <paramref name="node"/> with GetBlock and checks each: the answer's
    /// hash is the block's, the block links to the one before (block 1 to the genesis), its body matches its header,
    /// and its commit certificate verifies against the genesis validators. Collects each transaction's height.
    /// </summary>
    public static async Task<LedgerScan> ScanAsync(TestCluster cluster, int node, ulong height)
    {
        var problems = new ConcurrentQueue<string>();
        var blocks = new CommittedBlock?[height + 1];
        var answered = new string?[height + 1];
        var client = cluster.Observer.Ledger(node);
        await Parallel.ForEachAsync(Enumerable.Range(1, (int)height), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (h, ct) =>
        {
            try
            {
                var response = await client.GetBlockAsync(new GetBlockRequest { Height = (ulong)h },
                    deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: ct);
                blocks[h] = CommittedBlock.Decode(response.CommittedBlock.Span);
                answered[h] = response.Hash;
                if (response.Height != (ulong)h) problems.Enqueue($"node {node}: GetBlock({h}) answered height {response.Height}");
            }
            catch (Exception e) when (e is RpcException or Chain.Ledger.LedgerException)
            {
                problems.Enqueue($"node {node}: block {h}: {e.GetType().Name} {e.Message}");
            }
        });
        var hashes = new List<string>();
        var headers = new List<BlockHeader>();
        var txHeights = new Dictionary<string, ulong>();
        var previous = cluster.Genesis.Hash;
        for (var h = 1UL; h <= height; h++)
        {
            if (blocks[h] is not { } committed)
            {
                hashes.Add("missing");
                continue;
            }
            var block = committed.Block;
            var hash = block.Hash;
            hashes.Add(hash.ToString());
            headers.Add(block.Header);
            if (block.Height != h) problems.Enqueue($"node {node}: block at {h} says height {block.Height}");
            if (answered[h] != hash.ToString()) problems.Enqueue($"node {node}: GetBlock({h}).hash {answered[h]} but the block hashes to {hash}");
            if (block.Header.PreviousHash != previous)
                problems.Enqueue($"node {node}: block {h} links to {block.Header.PreviousHash.Short}, not to block {h - 1} {previous.Short}");
            if (block.CheckBody() is { } body) problems.Enqueue($"node {node}: block {h}: {body}");
            if (committed.Certificate.Check(hash, h, cluster.Genesis.Validators) is { } cert)
                problems.Enqueue($"node {node}: block {h} certificate: {cert}");
            foreach (var tx in block.Transactions)
            {
                var id = tx.Id.ToString();
                if (!txHeights.TryAdd(id, h)) problems.Enqueue($"node {node}: transaction {id[..8]} is in block {txHeights[id]} and again in block {h}");
            }
            previous = hash;
        }
        return new LedgerScan(node, height, hashes, txHeights, headers, [.. problems]);
    }

    /// <summary>
    /// The end of every cluster test. On <paramref name="nodes"/> (default: all four, every node honest):
    /// they converge (same height, tip hash and state root; empty mempools) and then all take part in one view (none
    /// left in a view change of its own; unless <paramref name="requireOneView"/> is false); every block of every node verifies and
    /// the ledgers are identical block by block; every transaction a node acknowledged is in every ledger (by a scan of
    /// the blocks, and by GetTransaction on every node: COMMITTED at that height with a Merkle proof to that block's
    /// header); the ledgers hold nothing that was never submitted; QueryState on every node returns the value of
    /// acknowledged puts. All problems are gathered into one failure.
    /// </summary>
    public static async Task FinalAsync(TestCluster cluster, TimeSpan? convergeTimeout = null, IReadOnlyList<int>? nodes = null,
        int maxGetTransactionChecks = int.MaxValue, bool requireOneView = true)
    {
        nodes ??= cluster.All;
        var failures = new List<string>();
        var started = Stopwatch.StartNew();
        var (converged, probes) = await ConvergeAsync(cluster, nodes, convergeTimeout ?? TimeSpan.FromSeconds(60));
        if (!converged)
            failures.Add($"the ledgers did not converge (same height, tip and state root, empty mempools; see the log for how long):\n{Describe(probes)}");
        var viewWait = TimeSpan.FromSeconds(!requireOneView ? 2 : converged ? 20 : 5);
        var (sameView, viewProbes) = await SameViewAsync(cluster, nodes, viewWait);
        if (!sameView && !requireOneView)
        {
            cluster.Log.Line("(not required by this test) the nodes are not all in one view:\n" + Describe(viewProbes));
        }
        else if (!sameView)
        {
            failures.Add("the nodes do not all take part in one view (one view and primary, none in a view change), " +
                $"within {viewWait.TotalSeconds:0} s after the ledgers converged:\n{Describe(viewProbes)}");
        }

        var scans = new List<LedgerScan>();
        foreach (var probe in probes)
        {
            if (probe.Status is not { } status)
            {
                failures.Add($"node {probe.Node} does not answer: {probe.Error}");
                continue;
            }
            var scan = await ScanAsync(cluster, probe.Node, status.Height);
            failures.AddRange(scan.Problems.Take(10));
            if (scan.BlockHashes.LastOrDefault() is { } tip && status.Height > 0 && tip != status.TipHash)
                failures.Add($"node {probe.Node}: GetStatus tip {status.TipHash[..8]} but block {status.Height} is {tip[..8]}");
            scans.Add(scan);
        }
        if (scans.Count == 0)
        {
            Assert.Fail(string.Join("\n", failures));
            return;
        }
        var reference = scans.MaxBy(s => s.Height)!;
        foreach (var scan in scans.Where(s => s != reference))
        {
            var common = Math.Min(scan.BlockHashes.Count, reference.BlockHashes.Count);
            var diverge = Enumerable.Range(0, common).FirstOrDefault(i => scan.BlockHashes[i] != reference.BlockHashes[i], -1);
            if (diverge >= 0)
                failures.Add($"node {scan.Node} and node {reference.Node} hold different blocks at height {diverge + 1}: " +
                    $"{scan.BlockHashes[diverge][..8]} vs {reference.BlockHashes[diverge][..8]}");
            if (scan.Height != reference.Height) failures.Add($"node {scan.Node} is at height {scan.Height}, node {reference.Node} at {reference.Height}");
        }

        var acked = cluster.Book.Acked;
        foreach (var scan in scans)
        {
            var missing = acked.Where(a => !scan.TxHeights.ContainsKey(a.TxId)).ToList();
            if (missing.Count > 0)
                failures.Add($"node {scan.Node}: {missing.Count} of {acked.Count} acknowledged transactions are not in its ledger, e.g. " +
                    string.Join(", ", missing.Take(5).Select(a => $"{a.TxId[..8]} (acknowledged {a.Status} by node {a.Node} at " +
                    $"{a.At.TotalSeconds:0.0} s{(a.Height > 0 ? $", height {a.Height}" : "")})")));
            var wrongHeight = acked.Where(a => a.Status == TxStatus.Committed && scan.TxHeights.TryGetValue(a.TxId, out var h) && h != a.Height).ToList();
            if (wrongHeight.Count > 0)
                failures.Add($"node {scan.Node}: {wrongHeight.Count} transactions were acknowledged COMMITTED at another height than the ledger's, e.g. " +
                    $"{wrongHeight[0].TxId[..8]} acknowledged at {wrongHeight[0].Height}, in block {scan.TxHeights[wrongHeight[0].TxId]}");
            var unknown = scan.TxHeights.Keys.Where(id => !cluster.Book.WasAttempted(id)).ToList();
            if (unknown.Count > 0)
                failures.Add($"node {scan.Node}: {unknown.Count} transactions in the ledger were never submitted by the test, e.g. {unknown[0][..8]}");
        }

        var checkedTx = acked.Take(maxGetTransactionChecks).ToList();
        foreach (var scan in scans) failures.AddRange(await GetTransactionChecksAsync(cluster, scan, checkedTx));
        foreach (var scan in scans) failures.AddRange(await StateChecksAsync(cluster, scan.Node, acked));
        cluster.Log.Line($"final checks on node(s) {string.Join(',', nodes)}: {acked.Count:N0} acknowledged transactions " +
            $"({checkedTx.Count:N0} by GetTransaction on each node), {reference.Height} blocks, " +
            $"{reference.TxHeights.Count:N0} transactions in the ledger, {failures.Count} problem(s), {started.Elapsed.TotalSeconds:0.0} s");
        if (failures.Count > 0) Assert.Fail(string.Join("\n", failures.Take(40)) + "\n" + cluster.LogTails());
    }

    /// <summary>GetTransaction for each acknowledged transaction on the scanned node: COMMITTED, at the scanned height, with a valid proof.</summary>
    private static async Task<List<string>> GetTransactionChecksAsync(TestCluster cluster, LedgerScan scan, IReadOnlyList<Ack> acked)
    {
        var problems = new ConcurrentQueue<string>();
        var client = cluster.Observer.Ledger(scan.Node);
        await Parallel.ForEachAsync(acked, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (ack, ct) =>
        {
            if (problems.Count > 20) return;
            try
            {
                var r = await client.GetTransactionAsync(new GetTransactionRequest { TxId = ack.TxId },
                    deadline: DateTime.UtcNow.AddSeconds(20), cancellationToken: ct);
                if (r.Status != TxStatus.Committed)
                {
                    problems.Enqueue($"node {scan.Node}: GetTransaction({ack.TxId[..8]}) is {r.Status}, not COMMITTED");
                    return;
                }
                if (scan.TxHeights.TryGetValue(ack.TxId, out var h) && h != r.Height)
                    problems.Enqueue($"node {scan.Node}: GetTransaction({ack.TxId[..8]}) says height {r.Height}, the block scan {h}");
                var header = BlockHeader.Decode(r.BlockHeader.Span);
                var proof = new Chain.Ledger.Merkle.MerkleProof((int)r.Proof.Index, (int)r.Proof.LeafCount,
                    r.Proof.Siblings.Select(s => Hash32.FromBytes(s.Span)).ToList());
                if (!MerkleTree.Verify(header.TxRoot, MerkleTree.LeafHash(r.Transaction.Span), proof))
                    problems.Enqueue($"node {scan.Node}: GetTransaction({ack.TxId[..8]}): the Merkle proof does not lead to the header's tx root");
                if (Transaction.Decode(r.Transaction.Span).Id.ToString() != ack.TxId)
                    problems.Enqueue($"node {scan.Node}: GetTransaction({ack.TxId[..8]}) returned another transaction");
                if (r.Height <= (ulong)scan.BlockHashes.Count && header.Hash().ToString() != scan.BlockHashes[(int)r.Height - 1])
                    problems.Enqueue($"node {scan.Node}: GetTransaction({ack.TxId[..8]}): its header is not block {r.Height}");
            }
            catch (Exception e) when (e is RpcException or Chain.Ledger.LedgerException)
            {
                problems.Enqueue($"node {scan.Node}: GetTransaction({ack.TxId[..8]}) (acknowledged by node {ack.Node}): {e.Message}");
            }
        });
        return [.. problems.Take(10)];
    }

    /// <summary>QueryState of up to 40 acknowledged puts on <paramref name="node"/>: found, with the value put.</summary>
    private static async Task<List<string>> StateChecksAsync(TestCluster cluster, int node, IReadOnlyList<Ack> acked)
    {
        var problems = new List<string>();
        var client = cluster.Observer.Ledger(node);
        var step = Math.Max(1, acked.Count / 40);
        for (var i = 0; i < acked.Count; i += step)
        {
            var ack = acked[i];
            if (ack.Key.Length == 0) continue;
            try
            {
                var r = await client.QueryStateAsync(new QueryStateRequest { Key = ByteString.CopyFrom([.. "kv/"u8, .. ack.Key]) },
                    deadline: DateTime.UtcNow.AddSeconds(10));
                if (!r.Found || !r.Value.Span.SequenceEqual(ack.Value))
                    problems.Add($"node {node}: QueryState({System.Text.Encoding.UTF8.GetString(ack.Key)}) found={r.Found}, " +
                        $"value {(r.Value.Span.SequenceEqual(ack.Value) ? "as put" : "differs")}");
            }
            catch (RpcException e)
            {
                problems.Add($"node {node}: QueryState: {e.Status}");
            }
            if (problems.Count >= 5) break;
        }
        return problems;
    }

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
