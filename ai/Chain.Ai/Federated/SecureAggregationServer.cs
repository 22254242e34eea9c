using System.Security.Cryptography;
using Chain.Chaincode.Custody;

namespace Chain.Ai.Federated;

/// <summary>The server's output: the ring sum of the included clients' encoded inputs, decoded, and who is included.</summary>
public sealed record SecureAggregationOutput(uint[] RingSum, float[] Sum, IReadOnlyList<int> Included);

/// <summary>
/// The server of secure aggregation as a state machine without I/O: per round it receives the clients' messages, then a
/// Close call ends the round (the host decides when: all arrived or a timeout) and returns what to send. A round with
/// fewer than t clients left fails with <see cref="SecureAggregationThresholdException"/>; a message from a client
/// not expected in the round, a duplicate or one of the wrong round is a <see cref="SecureAggregationProtocolException"/>
/// (the host drops it and may go on). The server never holds a key that opens the share ciphertexts it relays.
/// </summary>
public sealed class SecureAggregationServer
{
    private enum Phase
    {
        AdvertiseKeys,
        ShareKeys,
        MaskedInput,
        Unmasking,
        Done,
    }

    private readonly SecureAggregationParameters _parameters;
    private readonly SortedDictionary<int, ClientKeys> _advertised = [];
    private readonly SortedDictionary<int, ShareKeys> _shareKeys = [];
    private readonly SortedSet<int> _masked = [];
    private readonly SortedDictionary<int, UnmaskingShares> _unmasking = [];
    private readonly uint[] _sum;
    private Phase _phase = Phase.AdvertiseKeys;
    private SortedSet<int> _u1 = [];
    private SortedSet<int> _u2 = [];

    public SecureAggregationServer(SecureAggregationParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        _sum = new uint[parameters.VectorLength];
    }

    /// <summary>The clients whose masked inputs arrived (U3), once round 2 is closed.</summary>
    public IReadOnlyCollection<int> Survivors => _phase >= Phase.Unmasking ? _masked : [];

    /// <summary>Round 0: a client's keys.</summary>
    public void Receive(AdvertiseKeys message)
    {
        ArgumentNullException.ThrowIfNull(message);
        Expect(Phase.AdvertiseKeys, "AdvertiseKeys", message.Session);
        var id = message.Keys.Client;
        _parameters.CheckClient(id, "advertising client");
        if (!_advertised.TryAdd(id, message.Keys)) throw new SecureAggregationProtocolException($"client {id} advertised keys twice");
    }

    /// <summary>Ends round 0: the keys of U1 for every client of U1.</summary>
    public AdvertisedKeys CloseAdvertiseKeys()
    {
        Expect(Phase.AdvertiseKeys, "closing round 0", _parameters.Session);
        if (_advertised.Count < _parameters.Threshold)
            throw new SecureAggregationThresholdException("round 0 (AdvertiseKeys)", _advertised.Count, _parameters.Threshold);
        _u1 = [.. _advertised.Keys];
        _phase = Phase.ShareKeys;
        return new AdvertisedKeys(_parameters.Session, [.. _advertised.Values]);
    }

    /// <summary>Round 1: a client's encrypted shares, one for every other client of U1.</summary>
    public void Receive(ShareKeys message)
    {
        ArgumentNullException.ThrowIfNull(message);
        Expect(Phase.ShareKeys, "ShareKeys", message.Session);
        if (!_u1.Contains(message.From)) throw new SecureAggregationProtocolException($"client {message.From} shares keys but did not advertise any");
        if (_shareKeys.ContainsKey(message.From)) throw new SecureAggregationProtocolException($"client {message.From} shared keys twice");
        var recipients = message.Shares.Select(s => s.Peer).ToList();
        if (!recipients.SequenceEqual(_u1.Where(v => v != message.From)))
            throw new SecureAggregationProtocolException($"client {message.From} did not address exactly the other advertised clients");
        _shareKeys.Add(message.From, message);
    }

    /// <summary>Ends round 1: for each client of U2, the ciphertexts the other clients of U2 addressed to it.</summary>
    public IReadOnlyList<ForwardedShares> CloseShareKeys()
    {
        Expect(Phase.ShareKeys, "closing round 1", _parameters.Session);
        if (_shareKeys.Count < _parameters.Threshold)
            throw new SecureAggregationThresholdException("round 1 (ShareKeys)", _shareKeys.Count, _parameters.Threshold);
        _u2 = [.. _shareKeys.Keys];
        var forwarded = new List<ForwardedShares>(_u2.Count);
        foreach (var v in _u2)
        {
            var toV = _shareKeys.Values.Where(m => m.From != v)
                .Select(m => new EncryptedShare(m.From, m.Shares.First(s => s.Peer == v).Ciphertext)).ToList();
            forwarded.Add(new ForwardedShares(_parameters.Session, v, toV));
        }
        _phase = Phase.MaskedInput;
        return forwarded;
    }

    /// <summary>Round 2: a masked input, added to the running ring sum at once (the server keeps no single y_u).</summary>
    public void Receive(MaskedInput message)
    {
        ArgumentNullException.ThrowIfNull(message);
        Expect(Phase.MaskedInput, "MaskedInput", message.Session);
        if (!_u2.Contains(message.From)) throw new SecureAggregationProtocolException($"client {message.From} sends a masked input but did not share keys");
        if (message.Masked.Length != _parameters.VectorLength)
            throw new SecureAggregationException($"client {message.From} sent {message.Masked.Length} values, this round has {_parameters.VectorLength}");
        if (!_masked.Add(message.From)) throw new SecureAggregationProtocolException($"client {message.From} sent its masked input twice");
        RingMath.Add(_sum, message.Masked);
    }

    /// <summary>Ends round 2: the unmask request (seeds of U3, mask keys of U2 \ U3) for every client of U3.</summary>
    public UnmaskRequest CloseMaskedInput()
    {
        Expect(Phase.MaskedInput, "closing round 2", _parameters.Session);
        if (_masked.Count < _parameters.Threshold)
            throw new SecureAggregationThresholdException("round 2 (MaskedInput)", _masked.Count, _parameters.Threshold);
        _phase = Phase.Unmasking;
        return Request();
    }

    /// <summary>The request of round 2 (the same for every client), once round 2 is closed.</summary>
    public UnmaskRequest Request() => new(_parameters.Session, [.. _masked], [.. _u2.Except(_masked)]);

    /// <summary>
    /// Round 3: a survivor's shares. They must be exactly one per client of U2: a seed share for each client of U3, a
    /// mask-key share for each of U2 \ U3; a mask-key share of a client whose input is in (which would unmask it) is refused.
    /// </summary>
    public void Receive(UnmaskingShares message)
    {
        ArgumentNullException.ThrowIfNull(message);
        Expect(Phase.Unmasking, "UnmaskingShares", message.Session);
        if (!_masked.Contains(message.From)) throw new SecureAggregationProtocolException($"client {message.From} unmasks but sent no masked input");
        if (_unmasking.ContainsKey(message.From)) throw new SecureAggregationProtocolException($"client {message.From} sent its shares twice");
        if (!message.Shares.Select(s => s.Subject).SequenceEqual(_u2))
            throw new SecureAggregationProtocolException($"client {message.From} did not send exactly one share per client of round 1");
        foreach (var share in message.Shares)
        {
            var expected = _masked.Contains(share.Subject) ? UnmaskShareKind.Seed : UnmaskShareKind.MaskKey;
            if (share.Kind != expected)
                throw new SecureAggregationProtocolException(
                    $"client {message.From} sent a {share.Kind} share of client {share.Subject}, expected {expected}: refused");
        }
        _unmasking.Add(message.From, message);
    }

    /// <summary>
    /// Ends round 3: rebuilds each survivor's seed and each dropped client's mask key from t responders' shares, removes
    /// the self masks and the dropped clients' pairwise masks, and returns the sum of U3's inputs.
    /// </summary>
    public SecureAggregationOutput Finish()
    {
        Expect(Phase.Unmasking, "finishing", _parameters.Session);
        if (_unmasking.Count < _parameters.Threshold)
            throw new SecureAggregationThresholdException("round 3 (Unmasking)", _unmasking.Count, _parameters.Threshold);
        var responders = _unmasking.Values.Take(_parameters.Threshold).ToList();
        var sum = (uint[])_sum.Clone();
        for (var i = 0; i < _u2.Count; i++)
        {
            var subject = _u2.ElementAt(i);
            var shares = responders.Select(r => (r.From, r.Shares[i].Value)).ToList();
            if (_masked.Contains(subject))
            {
                var seed = Feldman.Reconstruct([.. shares.Select(s => new Share(s.From, SecAggScalars.Read(s.Value)))]);
                MaskPrg.Apply(SecAggKeys.SelfMaskKey(_parameters.Session, seed), sum, add: false);
            }
            else
            {
                RemovePairwiseMasks(sum, subject, shares);
            }
        }
        _phase = Phase.Done;
        return new SecureAggregationOutput(sum, _parameters.FixedPoint.DecodeSum(sum), [.. _masked]);
    }

    private void RemovePairwiseMasks(uint[] sum, int dropped, List<(int From, byte[] Value)> shares)
    {
        var raw = new byte[32];
        for (var half = 0; half < 2; half++)
        {
            var scalar = Feldman.Reconstruct(
                [.. shares.Select(s => new Share(s.From, SecAggScalars.Read(s.Value.AsSpan(half * SecAggScalars.Size))))]);
            SecAggKeys.ScalarToHalf(scalar, raw.AsSpan(half * 16), dropped);
        }
        using var key = SecAggKeys.ImportPrivate(raw);
        CryptographicOperations.ZeroMemory(raw);
        if (!SecAggKeys.PublicBytes(key).AsSpan().SequenceEqual(_advertised[dropped].MaskPublicKey))
            throw new SecureAggregationProtocolException($"the shares of client {dropped}'s mask key rebuild a key that is not the one it advertised");
        foreach (var u in _masked)
        {
            var pairKey = SecAggKeys.PairwiseMaskKey(key, SecAggKeys.ImportPublic(_advertised[u].MaskPublicKey, u), _parameters.Session, dropped, u);
            // y_u added PRG(s_uv) for v > u and subtracted it for v < u: undo that.
            MaskPrg.Apply(pairKey, sum, add: dropped < u);
        }
    }

    private void Expect(Phase phase, string step, ulong session)
    {
        if (session != _parameters.Session)
            throw new SecureAggregationProtocolException($"{step}: a message of session {session}, this round is {_parameters.Session}");
        if (_phase != phase) throw new SecureAggregationProtocolException($"{step} out of order (the server is at {_phase})");
    }
}
