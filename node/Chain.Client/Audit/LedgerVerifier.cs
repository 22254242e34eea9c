using System.Diagnostics;
using System.Threading.Channels;
using Chain.Accel;
using Chain.Chaincode;
using Chain.Client.Sources;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;
using Chain.Ledger.Validation;

namespace Chain.Client.Audit;

/// <summary>How far a verification has got: the last height fully checked and replayed.</summary>
public sealed record VerifyProgress(ulong Height, ulong Tip, long Transactions);

/// <summary>
/// The first thing found wrong. <see cref="Check"/> is one of "block", "hash-link", "tx-root", "certificate", "signature",
/// "transaction", "state-root", "state", "missing-block", "tip".
/// </summary>
public sealed record VerifyFailure(ulong Height, string Check, string Message);

/// <summary>The outcome of <see cref="LedgerVerifier.VerifyAsync"/>: what was verified (before the failure, if any) and how fast.</summary>
public sealed record VerifyReport(ulong Blocks, long Transactions, TimeSpan Elapsed, Hash32 StateRoot, VerifyFailure? Failure)
{
    public bool Ok => Failure is null;

    public double TransactionsPerSecond => Elapsed > TimeSpan.Zero ? Transactions / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Verifies a whole ledger against its genesis, trusting nothing the source says: every block 1..tip is present and
/// decodes strictly; its height, link to the previous block (the genesis hash for block 1), transaction root, timestamp
/// (after its parent's) and executed height (in [parent's, height - 1]) follow the node's rules; its commit certificate
/// is a quorum of valid signatures from distinct genesis validators; every transaction is for this chain, from a genesis
/// member, for a registered contract, with a valid signature, and appears once in the whole ledger. Every block is then
/// replayed in order through a fresh runtime over an in-memory store, and each header's claimed state root (after its
/// executed height) must be the replayed one. At the end the source's tip hash must be the last block's, and a data
/// directory's current state (entries, values, versions, root) must equal the replayed state exactly.
/// <para>
/// Pipelined with bounded look-ahead: one task fetches, decodes and checks structure; a second verifies signatures
/// (certificates and transactions) in parallel across a batch of blocks; a third executes blocks in order; a fourth
/// checks each claimed state root and commits to the replay store (the state-tree update, the costliest sequential
/// step), overlapping the execution of the next block. Every stage passes blocks on in height order and stops at its
/// first failure, so the failure reported is the first in height order.
/// </para>
/// </summary>
public sealed class LedgerVerifier(Genesis genesis, ContractRegistry registry, int parallelism = 0)
{
    private const int LookAhead = 8;
    private const int SignatureChunk = 64;
    private const int MaxBatchTransactions = 8_192;

    private readonly TransactionValidator _transactions = new(genesis, registry.Ids);
    // Signature checking is the largest share of the work (Ed25519 verification ≈ 10,000/s per core on the 2-core
    // benchmark VM), so it gets every processor; the execution and commit stages run beside it.
    private readonly int _signatureWorkers = parallelism > 0 ? parallelism : Environment.ProcessorCount;

    /// <summary>Limits blocks are decoded under (the ledger's defaults unless set).</summary>
    public LedgerLimits Limits { get; init; } = LedgerLimits.Default;

    /// <summary>A decoded block on its way through the pipeline, or the failure that ends it.</summary>
    private sealed record Item(ulong Height, CommittedBlock? Block, VerifyFailure? Failure);

    public async Task<VerifyReport> VerifyAsync(ILedgerSource source, IProgress<VerifyProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var clock = Stopwatch.StartNew();
        var tip = await source.TipAsync(cancellationToken).ConfigureAwait(false);
        using var replay = InMemoryLedgerStore.CreateReplay(genesis, Limits);
        VerifyReport Report(ulong blocks, long txs, VerifyFailure? failure) => new(blocks, txs, clock.Elapsed, replay.StateRoot, failure);

        if (tip.ChainId is not null && tip.ChainId != genesis.ChainId)
            return Report(0, 0, new VerifyFailure(0, "tip", $"{source.Description} serves chain '{tip.ChainId}', the genesis is for '{genesis.ChainId}'"));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var decoded = Channel.CreateBounded<Item>(new BoundedChannelOptions(LookAhead) { SingleReader = true, SingleWriter = true });
        var verified = Channel.CreateBounded<Item>(new BoundedChannelOptions(LookAhead) { SingleReader = true, SingleWriter = true });
        var fetch = Task.Run(() => FetchAsync(source, tip.Height, decoded.Writer, stop.Token), stop.Token);
        var signatures = Task.Run(() => VerifySignaturesAsync(decoded.Reader, verified.Writer, stop.Token), stop.Token);
        var executed = Channel.CreateBounded<Executed>(new BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });
        var pending = new PendingState(replay);
        var execute = Task.Factory.StartNew(() => ExecuteAsync(verified.Reader, executed.Writer, pending, stop.Token),
            stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        (ulong Blocks, long Transactions, VerifyFailure? Failure) replayed;
        try
        {
            replayed = await Task.Factory.StartNew(() => CommitAsync(executed.Reader, replay, pending, tip.Height, progress, stop.Token),
                stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap().ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Drain([fetch, signatures, execute], cancellationToken).ConfigureAwait(false);
        }
        var (blocks, txs, failure) = replayed;
        if (failure is not null) return Report(blocks, txs, failure);

        failure = CheckTip(tip, replay);
        if (failure is null && source.Kind == SourceKind.DataDirectory)
            failure = await CompareStateAsync(source, tip, replay, cancellationToken).ConfigureAwait(false);
        return Report(blocks, txs, failure);
    }

    /// <summary>Waits for the earlier stages; their cancellation (the commit stage ended) is expected, their errors are not.</summary>
    private static async Task Drain(Task[] stages, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(stages).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
    }

    // ---- stage 1: fetch, decode, structure ----

    private async Task FetchAsync(ILedgerSource source, ulong tip, ChannelWriter<Item> output, CancellationToken ct)
    {
        try
        {
            var previous = new BlockHeader(0, Hash32.Zero, Hash32.Zero, 0, Hash32.Zero, 0, 0, genesis.Timestamp, 0);
            var previousHash = genesis.Hash;
            for (var height = 1UL; height <= tip; height++)
            {
                var bytes = await source.GetBlockBytesAsync(height, ct).ConfigureAwait(false);
                var (block, failure) = bytes is null
                    ? (null, new VerifyFailure(height, "missing-block", $"block {height}: missing from {source.Description} (tip {tip})"))
                    : Structure(height, bytes, previous, previousHash);
                await output.WriteAsync(new Item(height, block, failure), ct).ConfigureAwait(false);
                if (failure is not null) break;
                previous = block!.Block.Header;
                previousHash = block.Block.Hash;
            }
            output.Complete();
        }
        catch (Exception e)
        {
            output.Complete(e);
            throw;
        }
    }

    /// <summary>Strict decode and the header rules against the parent; signatures are left to the next stage.</summary>
    private (CommittedBlock? Block, VerifyFailure? Failure) Structure(ulong height, byte[] bytes, BlockHeader previous, Hash32 previousHash)
    {
        VerifyFailure Fail(string check, string message) => new(height, check, $"block {height}: {message}");
        CommittedBlock committed;
        try
        {
            committed = CommittedBlock.Decode(bytes, Limits);
        }
        catch (LedgerException e) when (e.Error == LedgerError.InvalidBlock)
        {
            return (null, Fail("tx-root", $"body does not match its header ({e.Message})"));
        }
        catch (LedgerException e)
        {
            return (null, Fail("block", $"does not decode as a committed block ({e.Message})"));
        }
        var h = committed.Block.Header;
        if (h.Height != height) return (null, Fail("block", $"stored at height {height} but its header says {h.Height}"));
        if (h.PreviousHash != previousHash)
        {
            var parent = height == 1 ? "the genesis" : $"block {height - 1}";
            return (null, Fail("hash-link", $"previous hash {h.PreviousHash.Short} is not the hash of {parent} ({previousHash.Short})"));
        }
        if (h.Timestamp <= previous.Timestamp)
            return (null, Fail("block", $"timestamp {h.Timestamp} is not after its parent's {previous.Timestamp}"));
        if (h.ExecutedHeight < previous.ExecutedHeight || h.ExecutedHeight >= height)
            return (null, Fail("block", $"executed height {h.ExecutedHeight} is not in [{previous.ExecutedHeight}, {height - 1}]"));
        return (committed, null);
    }

    // ---- stage 2: certificates and transaction signatures, in parallel across a batch of blocks ----

    private async Task VerifySignaturesAsync(ChannelReader<Item> input, ChannelWriter<Item> output, CancellationToken ct)
    {
        try
        {
            var batch = new List<Item>(LookAhead);
            while (await input.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                batch.Clear();
                var txs = 0;
                while (batch.Count < LookAhead && txs < MaxBatchTransactions && input.TryRead(out var item))
                {
                    batch.Add(item);
                    txs += item.Block?.Block.Transactions.Count ?? 0;
                }
                foreach (var item in VerifyBatch(batch, ct))
                {
                    await output.WriteAsync(item, ct).ConfigureAwait(false);
                    if (item.Failure is not null)
                    {
                        output.Complete();
                        return;
                    }
                }
            }
            output.Complete();
        }
        catch (Exception e)
        {
            output.Complete(e);
            throw;
        }
    }

    private Item[] VerifyBatch(List<Item> batch, CancellationToken ct)
    {
        // Work units: one certificate per block, then chunks of transactions; each block keeps its first bad index.
        var units = new List<(int Item, int Start, int Count)>();
        var firstBad = new int[batch.Count];
        var certificates = new string?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            firstBad[i] = int.MaxValue;
            if (batch[i].Block is not { } b) continue;
            units.Add((i, -1, 0));
            for (var s = 0; s < b.Block.Transactions.Count; s += SignatureChunk)
                units.Add((i, s, Math.Min(SignatureChunk, b.Block.Transactions.Count - s)));
        }
        Parallel.For(0, units.Count, new ParallelOptions { MaxDegreeOfParallelism = _signatureWorkers, CancellationToken = ct }, u =>
        {
            var (i, start, count) = units[u];
            var committed = batch[i].Block!;
            if (start < 0)
            {
                certificates[i] = committed.Certificate.Check(committed.Block.Hash, batch[i].Height, genesis.Validators);
                return;
            }
            var txs = committed.Block.Transactions;
            for (var t = start; t < start + count; t++)
            {
                if (_transactions.Check(txs[t]).IsAccepted) continue;
                var seen = Volatile.Read(ref firstBad[i]);
                while (t < seen)
                {
                    var was = Interlocked.CompareExchange(ref firstBad[i], t, seen);
                    if (was == seen) break;
                    seen = was;
                }
                return;
            }
        });
        var result = new Item[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var item = batch[i];
            if (item.Failure is null && certificates[i] is { } bad)
                item = item with { Block = null, Failure = new VerifyFailure(item.Height, "certificate", $"block {item.Height}: certificate: {bad}") };
            else if (item.Failure is null && firstBad[i] != int.MaxValue)
            {
                var tx = item.Block!.Block.Transactions[firstBad[i]];
                var check = _transactions.Check(tx);
                var kind = check.Error == LedgerError.BadSignature ? "signature" : "transaction";
                item = item with
                {
                    Block = null,
                    Failure = new VerifyFailure(item.Height, kind, $"block {item.Height}: transaction {firstBad[i]} ({tx.Id.Short}): {check.Message}"),
                };
            }
            result[i] = item;
        }
        return result;
    }

    // ---- stages 3 and 4: execution, then commit (the state tree) on its own thread ----

    /// <summary>A block executed, on its way to the commit stage (or the failure that ends the run).</summary>
    private sealed record Executed(Item Item, BlockExecution? Result);

    /// <summary>
    /// Executes blocks in order over the replay store plus the writes of blocks executed but not yet committed
    /// (<see cref="PendingState"/>), so execution of a block overlaps the state-tree update of the one before. Also rejects
    /// a transaction id seen before in the ledger.
    /// </summary>
    private async Task ExecuteAsync(ChannelReader<Item> input, ChannelWriter<Executed> output, PendingState state, CancellationToken ct)
    {
        try
        {
            var runtime = new ChaincodeRuntime(registry, genesis);
            var ids = new HashSet<Hash32>();
            await foreach (var item in input.ReadAllAsync(ct).ConfigureAwait(false))
            {
                var failure = item.Failure ?? CheckDuplicates(item.Height, item.Block!.Block, ids);
                if (failure is not null)
                {
                    await output.WriteAsync(new Executed(item with { Block = null, Failure = failure }, null), ct).ConfigureAwait(false);
                    break;
                }
                var result = runtime.Execute(item.Block!.Block, state);
                state.Add(item.Height, result.Writes);
                await output.WriteAsync(new Executed(item, result), ct).ConfigureAwait(false);
            }
            output.Complete();
        }
        catch (Exception e)
        {
            output.Complete(e);
            throw;
        }
    }

    /// <summary>Checks each header's claimed state root against the replayed root at its executed height, then commits the block.</summary>
    private static async Task<(ulong Blocks, long Transactions, VerifyFailure? Failure)> CommitAsync(ChannelReader<Executed> input,
        InMemoryLedgerStore store, PendingState state, ulong tip, IProgress<VerifyProgress>? progress, CancellationToken ct)
    {
        long txs = 0;
        await foreach (var (item, result) in input.ReadAllAsync(ct).ConfigureAwait(false))
        {
            if (item.Failure is not null) return (store.Height, txs, item.Failure);
            var committed = item.Block!;
            var h = committed.Block.Header;
            var replayed = store.GetStateRoot(h.ExecutedHeight);
            if (replayed != h.StateRoot)
            {
                return (store.Height, txs, new VerifyFailure(item.Height, "state-root",
                    $"block {item.Height}: header claims state root {h.StateRoot.Short} after height {h.ExecutedHeight}, replay gives {replayed?.Short ?? "none"}"));
            }
            try
            {
                store.Commit(committed, result!.Writes);
            }
            catch (LedgerException e)
            {
                return (store.Height, txs, new VerifyFailure(item.Height, "block", $"block {item.Height}: replay refused it ({e.Message})"));
            }
            state.Committed(item.Height);
            txs += committed.Block.Transactions.Count;
            progress?.Report(new VerifyProgress(item.Height, tip, txs));
        }
        return (store.Height, txs, null);
    }

    /// <summary>A transaction id repeated in the block or seen earlier in the ledger; records the block's ids.</summary>
    private static VerifyFailure? CheckDuplicates(ulong height, Block block, HashSet<Hash32> ids)
    {
        var seen = new HashSet<Hash32>(block.Transactions.Count);
        for (var i = 0; i < block.Transactions.Count; i++)
        {
            var id = block.Transactions[i].Id;
            if (!seen.Add(id))
                return new VerifyFailure(height, "transaction", $"block {height}: transaction {i} ({id.Short}) appears twice in the block");
            if (ids.Contains(id))
                return new VerifyFailure(height, "transaction", $"block {height}: transaction {i} ({id.Short}) was already committed in an earlier block");
        }
        ids.UnionWith(seen);
        return null;
    }

    /// <summary>
    /// The state execution sees: the replay store's committed state overlaid with the writes of blocks executed but not
    /// yet committed (newest wins; null is a delete). Only the execution stage adds; the commit stage removes a block's
    /// writes after the store holds them, so a key missing from every overlay reads the same from the store before or
    /// after a concurrent commit.
    /// </summary>
    private sealed class PendingState(InMemoryLedgerStore store) : IStateView
    {
        private readonly object _lock = new();
        private readonly LinkedList<(ulong Height, Dictionary<byte[], byte[]?> Writes)> _pending = new();

        public void Add(ulong height, IReadOnlyList<StateWrite> writes)
        {
            var map = new Dictionary<byte[], byte[]?>(writes.Count, ByteComparer.Instance);
            foreach (var w in writes) map[w.Key] = w.Value;
            lock (_lock) _pending.AddLast((height, map));
        }

        public void Committed(ulong height)
        {
            lock (_lock)
            {
                if (_pending.First is { } first && first.Value.Height == height) _pending.RemoveFirst();
            }
        }

        public byte[]? Get(byte[] key)
        {
            lock (_lock)
            {
                for (var n = _pending.Last; n is not null; n = n.Previous)
                {
                    if (n.Value.Writes.TryGetValue(key, out var v)) return v;
                }
            }
            return store.GetState(key)?.Value;
        }

        public IEnumerable<KeyValuePair<byte[], byte[]>> Scan(byte[] prefix)
        {
            List<Dictionary<byte[], byte[]?>> overlays;
            lock (_lock) overlays = [.. _pending.Select(p => p.Writes)];
            var merged = new SortedDictionary<byte[], byte[]?>(ByteComparer.Instance);
            foreach (var (key, entry) in store.ScanState(prefix)) merged[key] = entry.Value;
            foreach (var overlay in overlays)
            {
                foreach (var (key, value) in overlay)
                {
                    if (key.AsSpan().StartsWith(prefix)) merged[key] = value;
                }
            }
            return merged.Where(kv => kv.Value is not null).Select(kv => KeyValuePair.Create(kv.Key, kv.Value!));
        }
    }

    // ---- end of ledger ----

    private static VerifyFailure? CheckTip(SourceTip tip, InMemoryLedgerStore replay) =>
        tip.TipHash == replay.TipHash
            ? null
            : new VerifyFailure(tip.Height, "tip", $"the source reports tip hash {tip.TipHash.Short} at height {tip.Height}, block {tip.Height} hashes to {replay.TipHash.Short}");

    /// <summary>A data directory's current state must be the replayed state: same keys, values and versions, and the same root.</summary>
    private static async Task<VerifyFailure?> CompareStateAsync(ILedgerSource source, SourceTip tip, InMemoryLedgerStore replay,
        CancellationToken ct)
    {
        VerifyFailure Fail(string message) => new(tip.Height, "state", message);
        using var expected = replay.ScanState([]).GetEnumerator();
        var more = expected.MoveNext();
        try
        {
            await foreach (var (key, entry) in source.ScanStateEntriesAsync([], ct).ConfigureAwait(false))
            {
                if (!more) return Fail($"stored state has key {Show(key)}, which the replay does not");
                var order = key.AsSpan().SequenceCompareTo(expected.Current.Key);
                if (order > 0) return Fail($"stored state lacks key {Show(expected.Current.Key)}");
                if (order < 0) return Fail($"stored state has key {Show(key)}, which the replay does not");
                var want = expected.Current.Value;
                if (!entry.Value.AsSpan().SequenceEqual(want.Value))
                    return Fail($"stored value of key {Show(key)} differs from the replayed value");
                if (entry.Version != want.Version)
                    return Fail($"stored version of key {Show(key)} is {entry.Version}, the replay wrote it at {want.Version}");
                more = expected.MoveNext();
            }
        }
        catch (LedgerException e)
        {
            return Fail($"stored state cannot be read ({e.Message})");
        }
        if (more) return Fail($"stored state lacks key {Show(expected.Current.Key)}");
        if (tip.StateRoot != replay.StateRoot)
            return Fail($"stored state root {tip.StateRoot.Short} is not the replayed root {replay.StateRoot.Short}");
        return null;
    }

    /// <summary>A state key for a message: its text when printable UTF-8, else hex.</summary>
    private static string Show(byte[] key)
    {
        var text = System.Text.Encoding.UTF8.GetString(key);
        return key.All(b => b is >= 0x20 and < 0x7f) ? $"'{text}'" : "0x" + Convert.ToHexString(key).ToLowerInvariant();
    }
}
