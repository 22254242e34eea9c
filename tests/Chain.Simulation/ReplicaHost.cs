using Chain.Accel;
using Chain.Consensus;

namespace Chain.Simulation;

/// <summary>What a host needs from the simulation around it.</summary>
internal interface IHostEnvironment
{
    Scenario Scenario { get; }

    /// <summary>Runs one replica step (counted; an exception becomes a violation naming the seed and step).</summary>
    NodeOutput Step(ReplicaHost host, INode node, Input input);

    void Send(ReplicaHost host, Envelope envelope);

    /// <summary>A block entered the host's ledger (<paramref name="txs"/> null: the payload did not decode).</summary>
    void Committed(ReplicaHost host, CommittedEntry entry, SimTransaction[]? txs, IReadOnlyList<TxId> duplicates);

    void Stepped(ReplicaHost host, NodeOutput output);

    void TransferNeeded(ReplicaHost host, StateTransferNeeded request);

    void CrashedMidReady(ReplicaHost host, NodeOutput lost);

    INode CreateNode(ReplicaHost host, NodeContext context);

    SimulationViolation Violation(string message);
}

/// <summary>
/// The node driver for one replica instance, honouring the <see cref="Ready"/> contract exactly: store
/// <see cref="NodeOutput.Persist"/> first (null deletes), then hand <see cref="NodeOutput.Send"/> to the network,
/// then append <see cref="NodeOutput.Committed"/> to the ledger (contiguous heights), then feed back
/// <see cref="Applied"/>. It also runs the mempool, makes the primary's proposals, and answers
/// <see cref="StateTransferNeeded"/> (through the simulation, which copies verified blocks from an honest ledger).
/// The ledger, the persisted records, the mempool (clients resubmit) and the validator's store of proposals it
/// has checked survive a crash, like a node's block store; the replica itself is rebuilt on restart.
/// </summary>
public sealed class ReplicaHost
{
    private readonly IHostEnvironment _env;
    private readonly Dictionary<string, byte[]> _persisted = new(StringComparer.Ordinal);
    private readonly OrderedDictionary<TxId, SimTransaction> _mempool = [];
    private readonly FakeSigner _signer;
    private INode? _node;
    private readonly SimValidator _validator;
    private (SeqNo Seq, Hash32 Parent, long Tick)? _lastProposal;
    private long _ticks;
    private bool _crashMidReady;

    internal ReplicaHost(IHostEnvironment env, int instance, ReplicaId id, ByzantineKind? kind, bool twinSideB)
    {
        _env = env;
        Instance = instance;
        Id = id;
        Kind = kind;
        TwinSideB = twinSideB;
        _signer = new FakeSigner(id);
        Verifier = new CountingVerifier(new FakeVerifier(env.Scenario.N));
        _validator = new SimValidator(Ledger, env.Scenario.Clients);
    }

    /// <summary>Index among all instances (twins make more instances than replica ids).</summary>
    public int Instance { get; }
    public ReplicaId Id { get; }
    public ByzantineKind? Kind { get; }
    public bool IsHonest => Kind is null;

    /// <summary>For twin routing: which side of the twin split this instance is on.</summary>
    public bool TwinSideB { get; }
    public bool IsUp => _node is not null;
    public SimLedger Ledger { get; } = new();
    public IReadOnlyDictionary<string, byte[]> Persisted => _persisted;

    /// <summary>The status of the latest step (null before the first step of an incarnation).</summary>
    public Status? Status { get; private set; }

    /// <summary>Incremented on every crash; stale timers (state transfers) compare it.</summary>
    public int Incarnation { get; private set; }
    public int Restarts { get; private set; }
    public int MempoolCount => _mempool.Count;
    public CountingVerifier Verifier { get; }
    public SimValidator Validator => _validator;

    /// <summary>Validator calls over every incarnation.</summary>
    public long ValidatorCalls => _validator.Calls;
    internal bool TransferPending { get; set; }

    /// <summary>Starts (or restarts) the node from the ledger's height and the persisted records.</summary>
    internal void Start()
    {
        var scenario = _env.Scenario;
        var config = new ReplicaConfig(Id, scenario.N, scenario.Options, new SeqNo(Ledger.Height), Ledger.Digest);
        var records = _persisted.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new PersistRecord(kv.Key, kv.Value.ToArray())).ToList();
        _node = _env.CreateNode(this, new NodeContext(config, _signer, Verifier, _validator, records));
    }

    internal void Restart()
    {
        Restarts++;
        Start();
    }

    internal void Crash()
    {
        _node = null;
        Status = null;
        _lastProposal = null;
        _crashMidReady = false;
        TransferPending = false;
        Incarnation++;
    }

    /// <summary>The next step that has records to persist and messages to send crashes between the two.</summary>
    internal void ArmMidReadyCrash() => _crashMidReady = true;

    internal void Submit(SimTransaction tx)
    {
        if (!Ledger.Contains(tx.Id)) _mempool.TryAdd(tx.Id, tx);
    }

    /// <summary>Steps the node with <paramref name="input"/> and every input it causes (Applied, Propose).</summary>
    internal void Deliver(Input input)
    {
        if (input is Tick) _ticks++;
        var inputs = new Queue<Input>();
        inputs.Enqueue(input);
        while (_node is not null && inputs.TryDequeue(out var next))
        {
            StepOnce(_node, next, inputs);
            if (inputs.Count == 0 && _node is not null) MaybePropose(inputs);
        }
    }

    private void StepOnce(INode node, Input input, Queue<Input> inputs)
    {
        var output = _env.Step(this, node, input);
        foreach (var record in output.Persist)
        {
            if (record.Value is null) _persisted.Remove(record.Key);
            else _persisted[record.Key] = record.Value.ToArray();
        }
        if (_crashMidReady && output.Persist.Count > 0 && output.Send.Count > 0)
        {
            Crash();
            _env.CrashedMidReady(this, output);
            return;
        }
        if (output.Status is not null) Status = output.Status;
        foreach (var envelope in output.Send) _env.Send(this, envelope);
        SeqNo? applied = null;
        foreach (var entry in output.Committed)
        {
            if (!Append(entry)) break;
            applied = entry.Seq;
        }
        foreach (var ev in output.Events)
        {
            if (ev is StateTransferNeeded request && !TransferPending) _env.TransferNeeded(this, request);
        }
        _env.Stepped(this, output);
        if (applied is { } seq) inputs.Enqueue(new Applied(seq));
    }

    /// <summary>
    /// Appends one committed entry. A gap or a wrong parent is a violation for an honest replica; a Byzantine
    /// instance's entry is skipped instead (its ledger is not checked).
    /// </summary>
    internal bool Append(CommittedEntry entry)
    {
        var error = Ledger.ContiguityError(entry);
        if (error is not null)
        {
            if (IsHonest) throw _env.Violation($"ledger contiguity: {Id} {error}");
            return false;
        }
        SimTransaction[]? txs = SimPayload.TryDecode(entry.Payload, out _, out var decoded) ? decoded : null;
        var duplicates = Ledger.Append(entry, txs ?? []);
        foreach (var tx in txs ?? []) _mempool.Remove(tx.Id);
        _env.Committed(this, entry, txs, duplicates);
        return true;
    }

    /// <summary>
    /// The primary's host proposes when its replica says so (<see cref="Status.NextProposal"/> set and
    /// <see cref="Status.Primary"/> is itself): a batch of mempool transactions neither committed nor in a
    /// known uncommitted ancestor. A (seq, parent) is offered again only after half a progress timeout (in case
    /// the replica could not take it). Side-B twins take the newest first, so twins propose different blocks.
    /// </summary>
    private void MaybePropose(Queue<Input> inputs)
    {
        if (Status is not { NextProposal: { } seq } status || status.Primary != Id) return;
        var reoffer = Math.Max(1, _env.Scenario.Options.ProgressTimeoutTicks / 2);
        if (_lastProposal is { } last && last.Seq == seq && last.Parent == status.NextParent &&
            _ticks - last.Tick < reoffer)
        {
            return;
        }
        var inFlight = _validator.InFlight(seq.Value, status.NextParent);
        var candidates = TwinSideB ? _mempool.Values.Reverse() : _mempool.Values;
        var batch = candidates.Where(tx => !Ledger.Contains(tx.Id) && !inFlight.Contains(tx.Id))
            .Take(_env.Scenario.MaxBatch).ToList();
        if (batch.Count == 0) return;
        _lastProposal = (seq, status.NextParent, _ticks);
        inputs.Enqueue(new Propose(seq, status.NextParent, SimPayload.Encode(status.NextParent, batch)));
    }
}
