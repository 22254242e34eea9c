using Chain.Chaincode;
using System.Diagnostics;
using System.Threading.Channels;
using Chain.Accel;
using Chain.Consensus;
using Chain.Ledger;
using Chain.Ledger.Identity;
using Chain.Ledger.Model;
using Chain.Ledger.Storage;

namespace Chain.Node;

/// <summary>Something for the driver thread to handle.</summary>
internal abstract record DriverItem;

internal sealed record PeerItem(ReplicaId From, byte[] Bytes) : DriverItem;

internal sealed record TickItem : DriverItem;

internal sealed record WakeItem : DriverItem;

/// <summary>Blocks state transfer fetched and verified (certificate, links), in height order.</summary>
internal sealed record TransferredItem(IReadOnlyList<CommittedBlock> Blocks) : DriverItem;

internal sealed record TransferEndedItem(SeqNo Target, string? Error) : DriverItem;

/// <summary>What the driver needs around it.</summary>
internal sealed record DriverContext(
    ReplicaId Id,
    Genesis Genesis,
    ConsensusSettings Settings,
    ILedgerStore Store,
    Mempool Mempool,
    MempoolJournal Journal,
    BlockValidator Validator,
    ISigner Signer,
    ISignatureVerifier Verifier,
    PeerNetwork Network,
    CommitHub Hub,
    ChaincodeRuntime Runtime,
    Outcomes Outcomes,
    NodeMetrics Metrics,
    ILogger Logger);

/// <summary>
/// The node's driver loop, on one dedicated thread: it feeds the consensus state machine peer messages, ticks and
/// proposals, and carries out each <see cref="Ready"/> in the required order. Within one pass over the inbox it
/// executes committed blocks as they come (each a synced ledger commit), collects every record to persist and
/// every message to send, then writes all the records in one synced batch (group commit) and only then sends.
/// So no vote leaves the node before the state that produced it is durable. It also makes the primary's
/// proposals, and hands state transfer to <see cref="StateTransfer"/>.
/// </summary>
internal sealed class Driver : IDisposable
{
    internal const string PersistPrefix = "consensus/";
    private const int PassLimit = 512;

    private readonly DriverContext _c;
    private readonly Channel<DriverItem> _inbox = Channel.CreateBounded<DriverItem>(new BoundedChannelOptions(100_000)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait,
        // Wake the driver thread from the writer's thread, not through the (possibly busy) thread pool.
        AllowSynchronousContinuations = true,
    });
    private readonly CancellationTokenSource _stop = new();
    private readonly StateTransfer _transfer;
    private readonly List<KeyValuePair<string, byte[]?>> _persist = [];
    private readonly List<Outbound> _send = [];
    private Thread? _thread;
    private Replica _replica = null!;
    private Status? _status;
    private int _tickQueued;
    private int _wakeQueued;
    private long _ticks;
    private (SeqNo Seq, Hash32 Parent, long Tick)? _lastProposal;
    private readonly Dictionary<Hash32, long> _proposedAt = new();
    private bool _transferring;
    private readonly List<BlockOrigin> _transferHistory = [];

    public Driver(DriverContext context)
    {
        _c = context;
        _transfer = new StateTransfer(context.Network, context.Genesis.Validators, context.Store, item => Post(item), context.Logger);
    }

    /// <summary>The latest status snapshot (for the API and metrics).</summary>
    public Status? Status => Volatile.Read(ref _status);

    /// <summary>Set when the driver stopped because a local invariant broke (fail-stop).</summary>
    public string? Failure { get; private set; }

    public long ViewChanges { get; private set; }

    public void Start()
    {
        var options = _c.Settings.ToOptions();
        var persisted = _c.Store.ScanMeta(PersistPrefix)
            .Select(kv => new PersistRecord(kv.Key[PersistPrefix.Length..], kv.Value)).ToList();
        var config = new ReplicaConfig(_c.Id, _c.Genesis.Validators.Count, options, new SeqNo(_c.Store.Height),
            _c.Store.TipHash, History(_c.Store, options.ReputationWindow));
        _replica = new Replica(config, _c.Signer, _c.Verifier, _c.Validator, persisted);
        _status = _replica.Status;
        _c.Logger.LogInformation("replica {Id} starting at height {Height}, view {View} ({Records} consensus records restored)",
            _c.Id, _c.Store.Height, _status.View, persisted.Count);
        _thread = new Thread(Run) { IsBackground = true, Name = "consensus-driver" };
        _thread.Start();
    }

    /// <summary>Queues an item; false when the inbox is full (the item is dropped: peers' messages are retried by consensus).</summary>
    public bool Post(DriverItem item) => _inbox.Writer.TryWrite(item);

    public void Tick()
    {
        if (Interlocked.Exchange(ref _tickQueued, 1) == 0 && !Post(new TickItem())) Volatile.Write(ref _tickQueued, 0);
    }

    public void Wake()
    {
        if (Interlocked.Exchange(ref _wakeQueued, 1) == 0 && !Post(new WakeItem())) Volatile.Write(ref _wakeQueued, 0);
    }

    private void Run()
    {
        var reader = _inbox.Reader;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (!reader.TryRead(out var item))
                {
                    if (!reader.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult()) return;
                    continue;
                }
                var handled = 0;
                do
                {
                    Handle(item);
                }
                while (++handled < PassLimit && reader.TryRead(out item));
                MaybePropose();
                Flush();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            // A broken local invariant (the ledger refused a certified block, the store failed): stop, do not guess.
            Failure = e.Message;
            _c.Logger.LogCritical(e, "driver stopped: {Reason}", e.Message);
        }
    }

    private void Handle(DriverItem item)
    {
        switch (item)
        {
            case PeerItem p:
                Step(new PeerMessage(p.From, p.Bytes));
                break;
            case TickItem:
                Volatile.Write(ref _tickQueued, 0);
                _ticks++;
                // A node cut off from a quorum does not suspect the primary: it could not complete a view change,
                // and a replica alone in one cannot return to the others' view until their next view change.
                Step(new Tick(_c.Mempool.Count > 0, _c.Network.Reachable + 1 >= _c.Genesis.Validators.Quorum));
                if (_ticks % 10 == 0)
                {
                    _c.Metrics.Committed(0, Environment.TickCount64);
                    _c.Metrics.PeersConnected.Set(_c.Network.Connected);
                    _c.Metrics.MempoolSize.Set(_c.Mempool.Count);
                }
                break;
            case WakeItem:
                Volatile.Write(ref _wakeQueued, 0);
                break;
            case TransferredItem t:
                foreach (var block in t.Blocks)
                {
                    if (block.Height != _c.Store.Height + 1) continue;
                    Commit(block);
                    _transferHistory.Add(new BlockOrigin(new SeqNo(block.Height), new ReplicaId(block.Block.Header.Proposer),
                        new View(block.Block.Header.View)));
                    _c.Metrics.StateTransferBlocks.Inc();
                }
                break;
            case TransferEndedItem end:
                _transferring = false;
                if (end.Error is not null)
                {
                    _c.Logger.LogWarning("state transfer to {Target} stopped at {Height}: {Reason}", end.Target, _c.Store.Height, end.Error);
                }
                if (_c.Store.Height > (_status?.Committed.Value ?? 0))
                {
                    _c.Logger.LogInformation("state transfer reached height {Height}", _c.Store.Height);
                    Step(new CaughtUp(new SeqNo(_c.Store.Height), _c.Store.TipHash, [.. _transferHistory]));
                }
                _transferHistory.Clear();
                break;
        }
    }

    /// <summary>Steps the replica with one input and every input it causes (Applied), collecting its output.</summary>
    private void Step(Input first)
    {
        var inputs = new Queue<Input>();
        inputs.Enqueue(first);
        while (inputs.TryDequeue(out var input))
        {
            var ready = _replica.Step(input);
            foreach (var r in ready.Persist) _persist.Add(KeyValuePair.Create(PersistPrefix + r.Key, r.Value));
            _send.AddRange(ready.Send);
            SeqNo? applied = null;
            foreach (var entry in ready.Committed)
            {
                Execute(entry);
                applied = entry.Seq;
            }
            foreach (var e in ready.Evidence) RecordEvidence(e);
            foreach (var ev in ready.Events) OnEvent(ev);
            Volatile.Write(ref _status, ready.Status);
            _c.Metrics.View.Set(ready.Status.View.Value);
            if (applied is { } seq) inputs.Enqueue(new Applied(seq));
        }
    }

    /// <summary>Persist (one synced write), then send: the order the Ready contract requires.</summary>
    private void Flush()
    {
        if (_persist.Count > 0)
        {
            var started = Stopwatch.GetTimestamp();
            _c.Store.WriteMeta(_persist, sync: true);
            _c.Metrics.PersistSeconds.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            _persist.Clear();
        }
        foreach (var o in _send)
        {
            if (o.To is { } to)
            {
                if (to != _c.Id) _c.Network.Send(to.Value, o.Bytes);
            }
            else
            {
                _c.Network.Broadcast(o.Bytes);
            }
        }
        _send.Clear();
    }

    private void Execute(CommittedEntry entry)
    {
        var store = _c.Store;
        if (entry.Seq.Value <= store.Height)
        {
            // Already stored (by state transfer): it must be the same block.
            var have = store.GetBlock(entry.Seq.Value);
            if (have is null || have.Block.Hash != entry.Digest)
                throw new InvalidOperationException($"consensus committed {entry.Digest.Short} at {entry.Seq}, but the ledger holds another block");
            return;
        }
        if (entry.Seq.Value != store.Height + 1)
            throw new InvalidOperationException($"consensus committed height {entry.Seq} but the ledger is at {store.Height}");
        // The validator decoded (and hashed) this payload when it was proposed; decode again only if it was not kept.
        var block = _c.Validator.Proposed(entry.Digest)?.Block ?? Block.Decode(entry.Payload, LedgerLimits.Default);
        if (block.Hash != entry.Digest) throw new InvalidOperationException($"committed payload at {entry.Seq} does not hash to its digest");
        var qc = entry.Certificate;
        var certificate = new CommitCertificate((CertificatePhase)qc.Phase, qc.Seq.Value, qc.View.Value, qc.Digest,
            qc.Votes.Select(v => new ReplicaSignature(v.Replica.Value, v.Signature)));
        Commit(new CommittedBlock(block, certificate));
    }

    /// <summary>Executes and stores one block (synced), then tells the mempool, waiters, subscribers and metrics.</summary>
    private void Commit(CommittedBlock committed)
    {
        var block = committed.Block;
        var started = Stopwatch.GetTimestamp();
        var execution = _c.Runtime.Execute(block, new StoreStateView(_c.Store));
        _c.Metrics.ExecuteSeconds.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        started = Stopwatch.GetTimestamp();
        _c.Store.Commit(committed, execution.Writes);
        _c.Outcomes.Add(block.Height, execution.Outcomes);
        var failed = execution.Outcomes.Count(o => !o.Success);
        if (failed > 0) _c.Metrics.FailedTransactions.Inc(failed);
        _c.Metrics.StoreCommitSeconds.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        if (_proposedAt.Remove(block.Hash, out var proposedAt))
            _c.Metrics.BlockRound.Observe(Stopwatch.GetElapsedTime(proposedAt).TotalSeconds);
        if (_proposedAt.Count > 1024) _proposedAt.Clear();
        var ids = block.Transactions.Select(t => t.Id).ToList();
        var removed = _c.Mempool.Remove(ids);
        var now = Stopwatch.GetTimestamp();
        foreach (var p in removed)
        {
            if (p.Local) _c.Metrics.CommitLatency.Observe(Stopwatch.GetElapsedTime(p.ArrivedAt, now).TotalSeconds);
        }
        // Only this node's own clients' transactions were journaled here; peers' gossip was not.
        var journaled = removed.Where(p => p.Local).Select(p => p.Tx.Id).ToList();
        if (journaled.Count > 0) _c.Journal.Remove(journaled);
        _c.Validator.Prune(block.Height, block.Header);
        _c.Hub.Committed(block);
        _c.Metrics.Height.Set(block.Height);
        _c.Metrics.MempoolSize.Set(_c.Mempool.Count);
        _c.Metrics.Committed(block.Transactions.Count, Environment.TickCount64);
    }

    private void RecordEvidence(Evidence e)
    {
        _c.Logger.LogWarning("evidence: replica {Offender} {Kind} at view {View} height {Seq}", e.Offender, e.Kind, e.View, e.Seq);
        var key = $"evidence/{e.Seq.Value:D20}/{e.Offender.Value}/{e.Kind}";
        _persist.Add(KeyValuePair.Create(key, (byte[]?)System.Text.Encoding.UTF8.GetBytes(
            $"{{\"offender\":{e.Offender.Value},\"kind\":\"{e.Kind}\",\"view\":{e.View.Value},\"height\":{e.Seq.Value}}}")));
    }

    private void OnEvent(ConsensusEvent ev)
    {
        switch (ev)
        {
            case MessageDropped d:
                _c.Metrics.Dropped.WithLabels(d.Reason.ToString()).Inc();
                _c.Logger.LogDebug("dropped a message from {From}: {Reason} {Detail}", d.From, d.Reason, d.Detail);
                break;
            case ViewChangeStarted v:
                _c.Logger.LogWarning("view change to {View}: {Why}", v.To, v.Why);
                break;
            case NewViewInstalled n:
                ViewChanges++;
                _c.Metrics.ViewChanges.Inc();
                _lastProposal = null;
                _c.Logger.LogInformation("view {View} installed, primary {Primary}, {Reproposed} re-proposed", n.View, n.Primary, n.Reproposed);
                break;
            case CheckpointStable s:
                _c.Logger.LogDebug("checkpoint {Seq} stable", s.Seq);
                break;
            case StateTransferNeeded t when !_transferring:
                _transferring = true;
                _transferHistory.Clear();
                _c.Logger.LogInformation("behind: fetching blocks {From}..{Target} from peers", _c.Store.Height + 1, t.Target);
                _transfer.Start(t);
                break;
        }
    }

    /// <summary>
    /// The primary proposes the next block when consensus offers a height (<see cref="Status.NextProposal"/>), at most
    /// <see cref="ConsensusSettings.PipelineDepth"/> blocks above the ledger, with a batch of pending transactions not in an uncommitted
    /// ancestor. The header records the latest state this node has executed (its committed height).
    /// </summary>
    private void MaybePropose()
    {
        var depth = _c.Settings.PipelineDepth;
        for (var round = 0; round < depth; round++)
        {
            if (_status is not { NextProposal: { } seq } status || status.Primary != _c.Id || status.InViewChange) return;
            var store = _c.Store;
            if (seq.Value > store.Height + (ulong)depth) return;
            var parent = status.NextParent;
            if (_lastProposal is { } last && last.Seq == seq && last.Parent == parent &&
                _ticks - last.Tick < Math.Max(1, _c.Settings.ProgressTimeoutTicks / 2))
            {
                return;
            }
            var parentHeader = _c.Validator.HeaderOf(seq.Value - 1, parent);
            if (parentHeader is null || store.Height < parentHeader.ExecutedHeight) return;
            var exclude = _c.Validator.InFlight(seq.Value - 1, parent);
            var txs = _c.Mempool.TakeBatch(_c.Settings.MaxBlockTransactions, exclude);
            var committed = txs.Where(t => store.GetTxLocation(t.Id) is not null).Select(t => t.Id).ToHashSet();
            if (committed.Count > 0)
            {
                _c.Mempool.Remove(committed);
                txs.RemoveAll(t => committed.Contains(t.Id));
            }
            if (txs.Count == 0) return;
            var timestamp = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), parentHeader.Timestamp + 1);
            var block = Block.Create(seq.Value, parent, store.Height, store.StateRoot, _c.Id.Value, status.View.Value, timestamp, txs);
            _lastProposal = (seq, parent, _ticks);
            _proposedAt[block.Hash] = Stopwatch.GetTimestamp();
            Step(new Propose(seq, parent, block.Encode()));
        }
    }

    /// <summary>Proposer and view of the last <paramref name="window"/> committed blocks, for reputation.</summary>
    private static List<BlockOrigin> History(ILedgerStore store, int window)
    {
        var list = new List<BlockOrigin>();
        var from = store.Height > (ulong)window ? store.Height - (ulong)window + 1 : 1;
        for (var h = from; h <= store.Height; h++)
        {
            var header = store.GetBlock(h)!.Block.Header;
            list.Add(new BlockOrigin(new SeqNo(h), new ReplicaId(header.Proposer), new View(header.View)));
        }
        return list;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _inbox.Writer.TryComplete();
        _thread?.Join(TimeSpan.FromSeconds(10));
        _transfer.Dispose();
        _stop.Dispose();
    }
}
