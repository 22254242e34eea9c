using System.Diagnostics;

namespace Chain.Ai.Federated;

/// <summary>Bytes and compute of one phase of a simulated round. Client arrays are indexed like the inputs (0 for a client that sent nothing).</summary>
public sealed record SecureAggregationPhaseStats(
    string Phase,
    IReadOnlyList<long> ClientBytesSent,
    long ServerBytesSent,
    IReadOnlyList<TimeSpan> ClientTime,
    TimeSpan ServerTime);

/// <summary>
/// Overhead of one simulated round: per phase, the bytes each client and the server sent (a broadcast counts once per
/// recipient) and the compute time of each client and of the server (encode/decode included, in-process, no network).
/// </summary>
public sealed record SecureAggregationStats(int Clients, int Threshold, int VectorLength, IReadOnlyList<SecureAggregationPhaseStats> Phases)
{
    /// <summary>What a client sends to submit the same vector in the clear (4 bytes per float).</summary>
    public long PlainBytesPerClient => 4L * VectorLength;

    public long BytesSentByClient(int index) => Phases.Sum(p => p.ClientBytesSent[index]);

    public long MaxClientBytesSent => Enumerable.Range(0, Clients).Max(BytesSentByClient);

    public long ServerBytesSent => Phases.Sum(p => p.ServerBytesSent);

    public TimeSpan ClientTimeOf(int index) => TimeSpan.FromTicks(Phases.Sum(p => p.ClientTime[index].Ticks));

    public TimeSpan MaxClientTime => Enumerable.Range(0, Clients).Select(ClientTimeOf).Max();

    public TimeSpan TotalClientTime => TimeSpan.FromTicks(Phases.Sum(p => p.ClientTime.Sum(t => t.Ticks)));

    public TimeSpan ServerTime => TimeSpan.FromTicks(Phases.Sum(p => p.ServerTime.Ticks));
}

/// <summary>One simulated round: the sum (decoded and in the ring), who is in it (input indices) and the overhead.</summary>
public sealed record SecureAggregationRun(float[] Sum, uint[] RingSum, IReadOnlyList<int> Included, SecureAggregationStats Stats);

/// <summary>
/// Secure aggregation (Bonawitz, Ivanov, Kreuter, Marcedone, McMahan, Patel, Ramage, Segal, Seth: "Practical Secure
/// Aggregation for Privacy-Preserving Machine Learning", CCS 2017), the semi-honest ("honest-but-curious") protocol of
/// the paper's section 4, over Z_{2^32}, with t-of-n Shamir sharing (<see cref="Chain.Chaincode.Custody.Feldman"/>),
/// X25519 + HKDF-SHA256 key agreement, ChaCha20-Poly1305 share encryption and an AES-256-CTR mask generator.
/// Rounds: 0 AdvertiseKeys, 1 ShareKeys, 2 MaskedInput, 3 Unmasking (see <see cref="SecAggMessageType"/>);
/// <see cref="SecureAggregationClient"/> and <see cref="SecureAggregationServer"/> are the two roles; this class runs
/// them in-process.
/// </summary>
/// <remarks>
/// <para><b>What it protects</b> (n clients, threshold t with n/2 &lt; t ≤ n, all parties following the protocol):
/// the server, even together with up to t − 1 clients, learns nothing about the honest clients' inputs beyond the sum
/// of the inputs of the clients the server includes (U3, at least t of them) — the masked vectors it sees are uniform
/// in Z_{2^32}^m given that sum. Clients learn nothing about each other's inputs (they never see masked vectors).
/// Dropouts after round 1 (their pairwise masks are rebuilt from their mask-key shares) or after round 2 (their
/// inputs count) keep the sum exact, as long as t clients are left at every step. Each client answers one unmask
/// request only and refuses one that names any client in both lists, so honest clients never reveal both b_u and s_u;
/// with t &gt; n/2, two disjoint sets of t responders cannot exist, so even a server that tells two halves of the
/// clients different stories cannot collect both from honest clients alone.</para>
/// <para><b>What it does not protect</b>:
/// (1) A malicious (active) server: there are no signatures, no PKI binding a client id to its keys, and no
/// ConsistencyCheck round (the paper's section 4's active-security additions are NOT implemented), so a server can
/// impersonate clients (add Sybils in round 0 to reach the threshold alone), or collude with corrupt clients to
/// reveal both secrets of one client (the paper's active variant adds the consistency check and, as we read it, a
/// threshold above (n + corrupt clients)/2, e.g. t = ⌊2n/3⌋ + 1 against fewer than n/3 corrupt clients).
/// (2) Poisoned inputs: the server sees only masked updates, so robust aggregation rules (median, trimmed mean, Krum,
/// see <see cref="IAggregationRule"/>) cannot be applied; only the clip range of the fixed-point encoding is enforced,
/// and only on honest clients (a malicious client can encode anything in the ring).
/// (3) The sum itself is revealed by design: with few clients, or across rounds with changing participants
/// (differencing two sums), it can leak an individual update. Secure aggregation adds no differential privacy; combine it
/// with client-side clipping and noise (distributed DP) for that.
/// (4) Traffic analysis and who participates, and the clients' own devices.</para>
/// </remarks>
public static class SecureAggregation
{
    private static readonly string[] PhaseNames =
        ["round 0 AdvertiseKeys", "round 1 ShareKeys", "round 2 MaskedInput", "round 3 Unmasking"];

    /// <summary>
    /// Runs one round in-process over serialised messages: client i (0-based) is id i + 1. Clients in
    /// <paramref name="dropBeforeMasking"/> share their keys and then drop (round 1 done, no masked input); clients in
    /// <paramref name="dropAfterMasking"/> send their masked input, then drop (no round 3). Returns the sum of the
    /// included clients' inputs (all but those dropped before masking). Inputs must lie in [−clip, clip].
    /// </summary>
    public static (float[] Sum, SecureAggregationStats Stats) Simulate(IReadOnlyList<float[]> inputs, int threshold,
        ISet<int> dropBeforeMasking, ISet<int> dropAfterMasking, long seed, float clip = 1f)
    {
        var run = Run(inputs, threshold, dropBeforeMasking, dropAfterMasking, seed, clip);
        return (run.Sum, run.Stats);
    }

    /// <summary>
    /// <see cref="Simulate"/> with the ring sum and the included clients, plus: <paramref name="dropBeforeSharing"/>
    /// (clients that advertise keys, then drop before round 1), <paramref name="random"/> (per client id; seeded from
    /// <paramref name="seed"/> by default) and <paramref name="serverView"/>, called with every message the server
    /// receives as bytes (what an honest-but-curious server sees).
    /// </summary>
    public static SecureAggregationRun Run(IReadOnlyList<float[]> inputs, int threshold, ISet<int> dropBeforeMasking,
        ISet<int> dropAfterMasking, long seed, float clip = 1f, ISet<int>? dropBeforeSharing = null,
        Func<int, ISecureAggregationRandom>? random = null, Action<SecAggMessageType, byte[]>? serverView = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(dropBeforeMasking);
        ArgumentNullException.ThrowIfNull(dropAfterMasking);
        dropBeforeSharing ??= new HashSet<int>();
        var n = inputs.Count;
        if (n < 2) throw new ArgumentOutOfRangeException(nameof(inputs), n, "at least 2 clients");
        if (inputs.Any(x => x is null)) throw new ArgumentException("an input is null", nameof(inputs));
        var length = inputs[0].Length;
        for (var i = 0; i < n; i++)
            if (inputs[i].Length != length)
                throw new SecureAggregationException($"input {i} has {inputs[i].Length} values, input 0 has {length}");
        foreach (var (set, name) in new[] { (dropBeforeSharing, "dropBeforeSharing"), (dropBeforeMasking, nameof(dropBeforeMasking)),
                     (dropAfterMasking, nameof(dropAfterMasking)) })
            if (set.Any(i => i < 0 || i >= n)) throw new ArgumentOutOfRangeException(name, $"client indices are 0..{n - 1}");
        if (dropBeforeSharing.Overlaps(dropBeforeMasking) || dropBeforeSharing.Overlaps(dropAfterMasking) || dropBeforeMasking.Overlaps(dropAfterMasking))
            throw new ArgumentException("a client can drop only once");

        var parameters = new SecureAggregationParameters(unchecked((ulong)seed), n, threshold, length, clip);
        var randoms = Enumerable.Range(1, n).Select(id => random?.Invoke(id) ?? new SeededSecureAggregationRandom(seed, id)).ToList();
        var clients = Enumerable.Range(1, n).Select(id => new SecureAggregationClient(parameters, id, randoms[id - 1])).ToList();
        try
        {
            var sim = new Simulation(parameters, clients, serverView);
            var sum = sim.Execute(inputs, dropBeforeSharing, dropBeforeMasking, dropAfterMasking);
            var included = sum.Included.Select(id => id - 1).ToList();
            return new SecureAggregationRun(sum.Sum, sum.RingSum, included, sim.Stats(threshold, length));
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
            foreach (var r in randoms) (r as IDisposable)?.Dispose();
        }
    }

    /// <summary>The in-process message loop: every message crosses as bytes, timed and counted per party and phase.</summary>
    private sealed class Simulation(SecureAggregationParameters parameters, List<SecureAggregationClient> clients,
        Action<SecAggMessageType, byte[]>? serverView)
    {
        private readonly SecureAggregationServer _server = new(parameters);
        private readonly long[][] _clientBytes = [.. PhaseNames.Select(_ => new long[clients.Count])];
        private readonly TimeSpan[][] _clientTime = [.. PhaseNames.Select(_ => new TimeSpan[clients.Count])];
        private readonly long[] _serverBytes = new long[PhaseNames.Length];
        private readonly TimeSpan[] _serverTime = new TimeSpan[PhaseNames.Length];

        public SecureAggregationOutput Execute(IReadOnlyList<float[]> inputs, ISet<int> dropBeforeSharing, ISet<int> dropBeforeMasking,
            ISet<int> dropAfterMasking)
        {
            var all = Enumerable.Range(0, clients.Count).ToList();
            // Round 0.
            foreach (var i in all) ClientToServer(0, i, () => clients[i].AdvertiseKeys().Encode(), b => _server.Receive(AdvertiseKeys.Decode(b, parameters)));
            var advertised = Server(0, () => _server.CloseAdvertiseKeys().Encode());
            _serverBytes[0] += (long)advertised.Length * clients.Count; // to every client of U1
            // Round 1.
            var sharing = all.Where(i => !dropBeforeSharing.Contains(i)).ToList();
            foreach (var i in sharing)
                ClientToServer(1, i, () => clients[i].ShareKeys(AdvertisedKeys.Decode(advertised, parameters)).Encode(),
                    b => _server.Receive(ShareKeys.Decode(b, parameters)));
            var forwarded = Server(1, () => _server.CloseShareKeys().ToDictionary(f => f.To - 1, f => f.Encode()));
            _serverBytes[1] += forwarded.Values.Sum(f => (long)f.Length); // one message to each client of U2
            // Round 2.
            var masking = sharing.Where(i => !dropBeforeMasking.Contains(i)).ToList();
            foreach (var i in masking)
                ClientToServer(2, i, () => clients[i].MaskInput(ForwardedShares.Decode(forwarded[i], parameters), inputs[i]).Encode(),
                    b => _server.Receive(MaskedInput.Decode(b, parameters)));
            var request = Server(2, () => _server.CloseMaskedInput().Encode());
            _serverBytes[2] += (long)request.Length * masking.Count; // to every client of U3
            // Round 3.
            foreach (var i in masking.Where(i => !dropAfterMasking.Contains(i)))
                ClientToServer(3, i, () => clients[i].Unmask(UnmaskRequest.Decode(request, parameters)).Encode(),
                    b => _server.Receive(UnmaskingShares.Decode(b, parameters)));
            return Server(3, _server.Finish);
        }

        public SecureAggregationStats Stats(int threshold, int length) => new(clients.Count, threshold, length,
        [
            .. PhaseNames.Select((name, p) => new SecureAggregationPhaseStats(name, _clientBytes[p], _serverBytes[p], _clientTime[p], _serverTime[p])),
        ]);

        private void ClientToServer(int phase, int client, Func<byte[]> send, Action<byte[]> receive)
        {
            var watch = Stopwatch.StartNew();
            var bytes = send();
            _clientTime[phase][client] += watch.Elapsed;
            _clientBytes[phase][client] += bytes.Length;
            serverView?.Invoke((SecAggMessageType)bytes[1], bytes);
            watch.Restart();
            receive(bytes);
            _serverTime[phase] += watch.Elapsed;
        }

        private T Server<T>(int phase, Func<T> close)
        {
            var watch = Stopwatch.StartNew();
            var result = close();
            _serverTime[phase] += watch.Elapsed;
            return result;
        }
    }
}
