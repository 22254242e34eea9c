using System.Buffers.Binary;
using Chain.Ai.Federated;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit.Abstractions;

namespace Chain.Ai.Tests.Federated;

/// <summary>
/// Secure aggregation (Bonawitz et al., CCS 2017): exact sums with and without dropouts (section 4's protocol, rounds
/// 0-3), threshold failures, the server's view of a masked input, refused unmask requests, strict message decoding,
/// range and length checks, and the CLI.
/// </summary>
public sealed class SecureAggregationTests(ITestOutputHelper output)
{
    private static readonly HashSet<int> None = [];

    private static float[][] Inputs(int n, int length, int seed, float clip = 1f)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2 - 1) * clip)).ToArray())];
    }

    private static uint[] ExpectedRing(float[][] inputs, IEnumerable<int> included, float clip = 1f)
    {
        var codec = new RingFixedPoint(clip, inputs.Length);
        return RingFixedPoint.RingSum(included.Select(i => codec.Encode(inputs[i])), inputs[0].Length);
    }

    // ---- Fixed point -------------------------------------------------------------------------------------------

    [Fact]
    public void Fixed_point_scale_leaves_room_for_the_sum_of_all_clients()
    {
        Assert.Equal(27, new RingFixedPoint(1f, 10).FractionalBits); // 10·(2^27 + ½) ≤ 2^31 − 1 < 10·(2^28 + ½)
        Assert.Equal(23, new RingFixedPoint(1f, 255).FractionalBits);
        Assert.Equal(30, new RingFixedPoint(1f, 1).FractionalBits);
        foreach (var (clip, k) in new[] { (1f, 10), (0.01f, 7), (1000f, 255), (3.5f, 2) })
        {
            var codec = new RingFixedPoint(clip, k);
            // k clients all at +clip, then all at −clip: the worst cases, and they must not wrap.
            foreach (var sign in new[] { 1f, -1f })
            {
                var sum = codec.DecodeSum(RingFixedPoint.RingSum(Enumerable.Range(0, k).Select(_ => codec.Encode([sign * clip])), 1));
                Assert.Equal(sign * (double)clip * k, sum[0], clip * k * 1e-6 + k * codec.Resolution);
            }
        }
    }

    [Fact]
    public void Values_outside_the_clip_range_are_refused_with_a_typed_error()
    {
        var codec = new RingFixedPoint(1f, 10);
        var e = Assert.Throws<SecureAggregationRangeException>(() => codec.Encode([0f, 1.0001f]));
        Assert.Equal(1, e.Index);
        Assert.Throws<SecureAggregationRangeException>(() => codec.Encode([-1.5f]));
        Assert.Throws<SecureAggregationRangeException>(() => codec.Encode([float.NaN]));
        Assert.Throws<SecureAggregationRangeException>(() => codec.Encode([float.NegativeInfinity]));
        Assert.Equal(new[] { 1u << 27, unchecked((uint)-(1 << 27)) }, codec.Encode([1f, -1f]));
        // Through the whole protocol too.
        var inputs = Inputs(3, 4, 1);
        inputs[2][3] = 2f;
        Assert.Throws<SecureAggregationRangeException>(() => SecureAggregation.Simulate(inputs, 2, None, None, 1));
        // A clip that cannot fit n clients in 32 bits at all is refused up front.
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingFixedPoint(1e9f, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingFixedPoint(0f, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingFixedPoint(float.PositiveInfinity, 10));
    }

    [Fact]
    public void Parameters_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecureAggregationParameters(1, 1, 1, 10, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecureAggregationParameters(1, 256, 200, 10, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecureAggregationParameters(1, 10, 5, 10, 1f)); // not a majority
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecureAggregationParameters(1, 10, 11, 10, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecureAggregationParameters(1, 10, 6, 0, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SecureAggregationParameters(1, 10, 6, 10, -1f));
        Assert.Equal(6, SecureAggregationParameters.MajorityThreshold(10));
        Assert.Equal(6, SecureAggregationParameters.MajorityThreshold(11));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecureAggregation.Simulate(Inputs(4, 3, 1), 3, new HashSet<int> { 4 }, None, 1));
        Assert.Throws<ArgumentException>(() => SecureAggregation.Simulate(Inputs(4, 3, 1), 3, new HashSet<int> { 1 }, new HashSet<int> { 1 }, 1));
    }

    [Fact]
    public void Mask_generator_is_deterministic_and_key_dependent()
    {
        var key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var other = (byte[])key.Clone();
        other[31] ^= 1;
        var a = MaskPrg.Expand(key, 20_000);
        Assert.Equal(a, MaskPrg.Expand(key, 20_000));
        Assert.Equal(a[..5], MaskPrg.Expand(key, 5));
        Assert.Equal(a[..16_390], MaskPrg.Expand(key, 16_390)); // across the 4096-block chunk boundary
        var b = MaskPrg.Expand(other, 20_000);
        Assert.True(a.Zip(b).Count(p => p.First == p.Second) < 5);
        var target = (uint[])a.Clone();
        MaskPrg.Apply(key, target, add: false);
        Assert.All(target, v => Assert.Equal(0u, v));
        Assert.Throws<ArgumentException>(() => MaskPrg.Expand(new byte[16], 4));
    }

    // ---- Exact sums ---------------------------------------------------------------------------------------------

    private void AssertExact(float[][] inputs, int threshold, ISet<int> before, ISet<int> after, long seed, ISet<int>? beforeSharing = null)
    {
        var run = SecureAggregation.Run(inputs, threshold, before, after, seed, dropBeforeSharing: beforeSharing);
        var expected = Enumerable.Range(0, inputs.Length).Where(i => !before.Contains(i) && !(beforeSharing?.Contains(i) ?? false)).ToList();
        Assert.Equal(expected, run.Included);
        Assert.Equal(ExpectedRing(inputs, expected), run.RingSum);
        for (var j = 0; j < inputs[0].Length; j++)
        {
            var plain = expected.Sum(i => (double)inputs[i][j]);
            Assert.Equal(plain, run.Sum[j], 1e-5);
        }
    }

    [Fact]
    public void Sum_is_exact_without_dropouts()
    {
        output.WriteLine("seed 11");
        AssertExact(Inputs(5, 300, 11), 3, None, None, 11);
    }

    [Fact]
    public void Sum_is_exact_with_dropouts_after_round_1()
    {
        // Clients 1 and 4 share their keys, then drop: their pairwise masks come off via their mask-key shares.
        output.WriteLine("seed 12");
        AssertExact(Inputs(7, 200, 12), 4, new HashSet<int> { 1, 4 }, None, 12);
    }

    [Fact]
    public void Sum_is_exact_with_dropouts_after_round_2()
    {
        // Clients 0 and 5 send their masked inputs, then drop: their inputs count, their self masks come off via seed shares.
        output.WriteLine("seed 13");
        AssertExact(Inputs(7, 200, 13), 4, None, new HashSet<int> { 0, 5 }, 13);
    }

    [Fact]
    public void Sum_is_exact_with_dropouts_at_every_step()
    {
        output.WriteLine("seed 14");
        AssertExact(Inputs(9, 64, 14), 5, new HashSet<int> { 2 }, new HashSet<int> { 8 }, 14, beforeSharing: new HashSet<int> { 0 });
    }

    [Property(MaxTest = 12)]
    public Property Sum_is_exact_for_random_clients_thresholds_and_dropouts() => Prop.ForAll(
        Arb.From(Gen.Choose(3, 10)), Arb.From(Gen.Choose(0, int.MaxValue)), (n, seed) =>
        {
            var random = new Random(seed);
            var t = random.Next(n / 2 + 1, n + 1);
            // Drop up to n − t clients in total, split at random between before and after masking.
            var drops = random.Next(0, n - t + 1);
            var order = Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToList();
            var split = random.Next(0, drops + 1);
            var before = order.Take(split).ToHashSet();
            var after = order.Skip(split).Take(drops - split).ToHashSet();
            var inputs = Inputs(n, random.Next(1, 40), seed);
            output.WriteLine($"seed {seed}: n {n}, t {t}, drop before masking [{string.Join(",", before)}], after [{string.Join(",", after)}]");
            var run = SecureAggregation.Run(inputs, t, before, after, seed);
            var included = Enumerable.Range(0, n).Where(i => !before.Contains(i)).ToList();
            return (run.Included.SequenceEqual(included) && run.RingSum.SequenceEqual(ExpectedRing(inputs, included)))
                .Label($"seed {seed}, n {n}, t {t}");
        });

    [Fact]
    public void Fewer_than_t_survivors_fail_with_a_typed_error_at_each_step()
    {
        var inputs = Inputs(6, 10, 21);
        // t = 4 of 6. Two dropped before sharing and one before masking: 3 maskers < 4.
        var e = Assert.Throws<SecureAggregationThresholdException>(() =>
            SecureAggregation.Run(inputs, 4, new HashSet<int> { 2 }, None, 21, dropBeforeSharing: new HashSet<int> { 0, 1 }));
        Assert.Equal("round 2 (MaskedInput)", e.Step);
        Assert.Equal(3, e.Available);
        Assert.Equal(4, e.Threshold);
        // Three dropped before sharing: 3 sharers < 4.
        e = Assert.Throws<SecureAggregationThresholdException>(() =>
            SecureAggregation.Run(inputs, 4, None, None, 21, dropBeforeSharing: new HashSet<int> { 0, 1, 2 }));
        Assert.Equal("round 1 (ShareKeys)", e.Step);
        // Everyone masks, three drop before unmasking: 3 responders < 4; the server cannot (and must not) unmask.
        e = Assert.Throws<SecureAggregationThresholdException>(() => SecureAggregation.Simulate(inputs, 4, None, new HashSet<int> { 3, 4, 5 }, 21));
        Assert.Equal("round 3 (Unmasking)", e.Step);
        // Exactly t left works.
        AssertExact(inputs, 4, new HashSet<int> { 0 }, new HashSet<int> { 1 }, 21);
    }

    [Fact]
    public void Same_seed_same_transcript_other_seed_other_masks()
    {
        var inputs = Inputs(4, 50, 5);
        List<byte[]> Transcript(long seed)
        {
            var seen = new List<byte[]>();
            SecureAggregation.Run(inputs, 3, None, None, seed, serverView: (_, b) => seen.Add(b));
            return seen;
        }
        var a = Transcript(5);
        Assert.Equal(a, Transcript(5));
        var masked = a.Where(b => b[1] == (byte)SecAggMessageType.MaskedInput).ToList();
        var other = Transcript(6).Where(b => b[1] == (byte)SecAggMessageType.MaskedInput).ToList();
        Assert.Equal(4, masked.Count);
        Assert.All(masked.Zip(other), p => Assert.False(p.First.AsSpan(10).SequenceEqual(p.Second.AsSpan(10))));
    }

    [Fact]
    public void Stats_count_every_message_byte()
    {
        // 5 clients, 20 parameters; client 1 (index) drops before masking, client 3 after.
        const int n = 5, m = 20;
        var (_, stats) = SecureAggregation.Simulate(Inputs(n, m, 71), 3, new HashSet<int> { 1 }, new HashSet<int> { 3 }, 71);
        output.WriteLine($"seed 71; per client {string.Join(", ", Enumerable.Range(0, n).Select(stats.BytesSentByClient))}; server {stats.ServerBytesSent}");
        Assert.Equal(4, stats.Phases.Count);
        Assert.All(stats.Phases[0].ClientBytesSent, b => Assert.Equal(10 + 66, b));
        Assert.All(stats.Phases[1].ClientBytesSent, b => Assert.Equal(14 + (n - 1) * 118, b));
        Assert.Equal(new long[] { 16 + 4 * m, 0, 16 + 4 * m, 16 + 4 * m, 16 + 4 * m }, stats.Phases[2].ClientBytesSent);
        // Round 3: 5 subjects (U2 = everyone): the seeds of the 4 maskers (35 B each), the mask key of index 1 (67 B).
        Assert.Equal(new long[] { 14 + 4 * 35 + 67, 0, 14 + 4 * 35 + 67, 0, 14 + 4 * 35 + 67 }, stats.Phases[3].ClientBytesSent);
        Assert.Equal(n * (12 + n * 66), stats.Phases[0].ServerBytesSent);
        Assert.Equal(n * (14 + (n - 1) * 118), stats.Phases[1].ServerBytesSent);
        Assert.Equal(4 * (10 + 4 + 2 * 5), stats.Phases[2].ServerBytesSent);
        Assert.Equal(4L * m, stats.PlainBytesPerClient);
        Assert.True(stats.ServerTime > TimeSpan.Zero && stats.MaxClientTime > TimeSpan.Zero);
    }

    // ---- What the server sees ----------------------------------------------------------------------------------

    private static uint[] ServerViewOfClient1(float[][] inputs, long seed, ISet<int>? dropBeforeMasking = null)
    {
        uint[]? seen = null;
        SecureAggregation.Run(inputs, 3, dropBeforeMasking ?? None, None, seed, serverView: (type, bytes) =>
        {
            if (type == SecAggMessageType.MaskedInput && BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(10)) == 1)
                seen = MaskedInput.Decode(bytes, new SecureAggregationParameters((ulong)seed, inputs.Length, 3, inputs[0].Length, 1f)).Masked;
        });
        return seen ?? throw new InvalidOperationException("client 1 sent no masked input");
    }

    private static double ChiSquareTop4Bits(uint[] values)
    {
        var bins = new int[16];
        foreach (var v in values) bins[v >> 28]++;
        var expected = values.Length / 16.0;
        return bins.Sum(b => (b - expected) * (b - expected) / expected);
    }

    private static double Correlation(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        double mx = x.Average(), my = y.Average(), sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < x.Count; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.Sqrt(sxx * syy);
    }

    [Fact]
    public void A_masked_input_looks_uniform_and_does_not_depend_on_the_input()
    {
        const int m = 8192;
        const long seed = 31;
        output.WriteLine($"seed {seed}, {m} coordinates");
        // Two runs, same randomness for everyone, client 0's input all zeros vs all at the clip bound (+1).
        var zeros = Inputs(4, m, 7);
        Array.Clear(zeros[0]);
        var ones = zeros.Select(x => (float[])x.Clone()).ToArray();
        Array.Fill(ones[0], 1f);
        var y0 = ServerViewOfClient1(zeros, seed);
        var y1 = ServerViewOfClient1(ones, seed);
        // One-time pad: with the same masks the two views differ by exactly the encoded input difference...
        var step = 1u << new RingFixedPoint(1f, 4).FractionalBits;
        Assert.All(y0.Zip(y1), p => Assert.Equal(step, unchecked(p.Second - p.First)));
        // ...and each view is uniform in Z_2^32 (chi-square of the top 4 bits, 15 degrees of freedom: 99.99% below 44).
        double chi0 = ChiSquareTop4Bits(y0), chi1 = ChiSquareTop4Bits(y1);
        output.WriteLine($"chi-square top-4-bit bins: zeros {chi0:F1}, ones {chi1:F1}");
        Assert.InRange(chi0, 0, 44);
        Assert.InRange(chi1, 0, 44);
        // Their summary statistics are indistinguishable (means of y/2^32 near ½, within 5 standard errors).
        double mean0 = y0.Average(v => v / 4294967296.0), mean1 = y1.Average(v => v / 4294967296.0);
        var se = Math.Sqrt(1.0 / 12 / m);
        output.WriteLine($"means of y/2^32: zeros {mean0:F4}, ones {mean1:F4} (se {se:F4})");
        Assert.InRange(mean0, 0.5 - 5 * se, 0.5 + 5 * se);
        Assert.InRange(mean1, 0.5 - 5 * se, 0.5 + 5 * se);
        // The mask is not zero anywhere it matters: y − x ≠ 0 on (almost) every coordinate.
        Assert.True(y0.Count(v => v == 0) <= 1);
    }

    [Fact]
    public void A_masked_input_does_not_correlate_with_the_input_also_after_a_dropout()
    {
        const int m = 8192;
        output.WriteLine("seed 41");
        var inputs = Inputs(5, m, 41);
        var codec = new RingFixedPoint(1f, 5);
        var x = codec.Encode(inputs[0]).Select(v => (double)unchecked((int)v)).ToList();
        foreach (var drop in new[] { None, new HashSet<int> { 3 } })
        {
            var y = ServerViewOfClient1(inputs, 41, drop);
            var r = Correlation(x, [.. y.Select(v => (double)v)]);
            // Also against y read as signed, where a leak of the (signed) input would show most.
            var rs = Correlation(x, [.. y.Select(v => (double)unchecked((int)v))]);
            var diff = y.Zip(codec.Encode(inputs[0])).Count(p => p.First == p.Second);
            output.WriteLine($"drop [{string.Join(",", drop)}]: corr(x, y) {r:F4}, signed {rs:F4}, coordinates with y = x: {diff}");
            Assert.InRange(Math.Abs(r), 0, 0.05); // 1/√8192 ≈ 0.011
            Assert.InRange(Math.Abs(rs), 0, 0.05);
            Assert.True(diff <= 1);
        }
    }

    // ---- Driving the roles by hand: refusals -------------------------------------------------------------------

    private sealed class Round : IDisposable
    {
        public Round(int n, int t, int length, long seed)
        {
            Parameters = new SecureAggregationParameters((ulong)seed, n, t, length, 1f);
            Randoms = [.. Enumerable.Range(1, n).Select(id => new SeededSecureAggregationRandom(seed, id))];
            Clients = [.. Enumerable.Range(1, n).Select(id => new SecureAggregationClient(Parameters, id, Randoms[id - 1]))];
            Server = new SecureAggregationServer(Parameters);
            Inputs = SecureAggregationTests.Inputs(n, length, (int)seed);
        }

        public SecureAggregationParameters Parameters { get; }
        public List<SeededSecureAggregationRandom> Randoms { get; }
        public List<SecureAggregationClient> Clients { get; }
        public SecureAggregationServer Server { get; }
        public float[][] Inputs { get; }

        public AdvertisedKeys Advertise()
        {
            foreach (var c in Clients) Server.Receive(c.AdvertiseKeys());
            return Server.CloseAdvertiseKeys();
        }

        /// <summary>Rounds 0-2 with everyone; returns the server's unmask request.</summary>
        public UnmaskRequest ThroughMasking(ISet<int>? dropBeforeMasking = null)
        {
            var advertised = Advertise();
            foreach (var c in Clients) Server.Receive(c.ShareKeys(advertised));
            var forwarded = Server.CloseShareKeys();
            foreach (var c in Clients.Where(c => !(dropBeforeMasking?.Contains(c.Id) ?? false)))
                Server.Receive(c.MaskInput(forwarded.Single(f => f.To == c.Id), Inputs[c.Id - 1]));
            return Server.CloseMaskedInput();
        }

        public void Dispose()
        {
            Clients.ForEach(c => c.Dispose());
            Randoms.ForEach(r => r.Dispose());
        }
    }

    [Fact]
    public void A_client_refuses_to_reveal_both_the_seed_and_the_key_shares_of_one_client()
    {
        using var round = new Round(4, 3, 8, 51);
        var honest = round.ThroughMasking();
        Assert.Equal(new[] { 1, 2, 3, 4 }, honest.SeedsOf);
        Assert.Empty(honest.KeysOf);
        // The server asks for client 2's seed and its mask key: with both it could strip all of y_2's masks.
        var greedy = new UnmaskRequest(round.Parameters.Session, [1, 2, 3, 4], [2]);
        var e = Assert.Throws<SecureAggregationProtocolException>(() => round.Clients[0].Unmask(greedy));
        Assert.Contains("both", e.Message, StringComparison.Ordinal);
        // Claiming client 2 dropped (to get its key shares) is refused by client 2 itself...
        var lying = new UnmaskRequest(round.Parameters.Session, [1, 3, 4], [2]);
        Assert.Throws<SecureAggregationProtocolException>(() => round.Clients[1].Unmask(lying));
        // ...and a client that answered once refuses any second request, so split stories cannot collect both.
        Assert.Equal(4, round.Clients[2].Unmask(honest).Shares.Count);
        Assert.Throws<SecureAggregationProtocolException>(() => round.Clients[2].Unmask(lying));
        // A request leaving out a client that shared keys, or naming one that did not, is refused too.
        Assert.Throws<SecureAggregationProtocolException>(() => round.Clients[3].Unmask(new UnmaskRequest(round.Parameters.Session, [1, 2, 4], [])));
        // Fewer than t survivors listed: the client will not help unmask.
        Assert.Throws<SecureAggregationThresholdException>(() => round.Clients[3].Unmask(new UnmaskRequest(round.Parameters.Session, [1, 4], [2, 3])));
    }

    [Fact]
    public void The_server_refuses_a_mask_key_share_of_a_client_whose_input_is_in()
    {
        using var round = new Round(4, 3, 8, 52);
        var request = round.ThroughMasking(new HashSet<int> { 4 });
        Assert.Equal(new[] { 1, 2, 3 }, request.SeedsOf);
        Assert.Equal(new[] { 4 }, request.KeysOf);
        var reply = round.Clients[0].Unmask(request);
        // Swap the seed share of client 2 for a (well-formed) mask-key share: the server must not accept it.
        var forged = new UnmaskingShares(reply.Session, reply.From,
            [.. reply.Shares.Select(s => s.Subject == 2 ? new RevealedShare(2, UnmaskShareKind.MaskKey, new byte[64]) : s)]);
        Assert.Throws<SecureAggregationProtocolException>(() => round.Server.Receive(forged));
        // A reply that skips a subject is refused; the honest one is accepted once.
        Assert.Throws<SecureAggregationProtocolException>(() =>
            round.Server.Receive(new UnmaskingShares(reply.Session, reply.From, [.. reply.Shares.Where(s => s.Subject != 3)])));
        round.Server.Receive(reply);
        Assert.Throws<SecureAggregationProtocolException>(() => round.Server.Receive(reply));
        // Client 4 dropped before masking: it cannot unmask.
        Assert.Throws<SecureAggregationProtocolException>(() => round.Server.Receive(new UnmaskingShares(reply.Session, 4, reply.Shares)));
        round.Server.Receive(round.Clients[1].Unmask(request));
        round.Server.Receive(round.Clients[2].Unmask(request));
        var result = round.Server.Finish();
        Assert.Equal(ExpectedRing(round.Inputs, [0, 1, 2]), result.RingSum);
    }

    [Fact]
    public void Wrong_mask_key_shares_are_detected_against_the_advertised_key()
    {
        using var round = new Round(4, 3, 8, 53);
        var request = round.ThroughMasking(new HashSet<int> { 4 });
        var replies = round.Clients.Take(3).Select(c => c.Unmask(request)).ToList();
        var bad = replies[0];
        var tampered = bad.Shares.Select(s =>
        {
            if (s.Kind != UnmaskShareKind.MaskKey) return s;
            var value = (byte[])s.Value.Clone();
            value[31] ^= 1;
            return new RevealedShare(s.Subject, s.Kind, value);
        }).ToList();
        round.Server.Receive(new UnmaskingShares(bad.Session, bad.From, tampered));
        round.Server.Receive(replies[1]);
        round.Server.Receive(replies[2]);
        Assert.Throws<SecureAggregationProtocolException>(() => round.Server.Finish());
    }

    [Fact]
    public void Tampered_or_misrouted_share_ciphertexts_are_refused_by_the_recipient()
    {
        using var round = new Round(3, 2, 4, 54);
        var advertised = round.Advertise();
        foreach (var c in round.Clients) round.Server.Receive(c.ShareKeys(advertised));
        var forwarded = round.Server.CloseShareKeys();
        var toOne = forwarded.Single(f => f.To == 1);
        var flipped = toOne.Shares.Select((s, i) =>
        {
            var ct = (byte[])s.Ciphertext.Clone();
            if (i == 0) ct[7] ^= 0x40;
            return new EncryptedShare(s.Peer, ct);
        }).ToList();
        Assert.Throws<SecureAggregationProtocolException>(() =>
            round.Clients[0].MaskInput(new ForwardedShares(toOne.Session, 1, flipped), round.Inputs[0]));
        // The bundle for client 2 handed to client 1 as if it came from client 3: it does not authenticate either.
        var toTwo = forwarded.Single(f => f.To == 2);
        var misrouted = new ForwardedShares(toOne.Session, 1, [new EncryptedShare(3, toTwo.Shares.Single(s => s.Peer == 3).Ciphertext)]);
        Assert.Throws<SecureAggregationProtocolException>(() => round.Clients[0].MaskInput(misrouted, round.Inputs[0]));
    }

    [Fact]
    public void Out_of_order_and_duplicate_messages_are_protocol_errors()
    {
        using var round = new Round(3, 2, 4, 55);
        var client = round.Clients[0];
        Assert.Throws<SecureAggregationProtocolException>(() => client.Unmask(new UnmaskRequest(round.Parameters.Session, [1, 2], [])));
        var keys = client.AdvertiseKeys();
        Assert.Throws<SecureAggregationProtocolException>(() => client.AdvertiseKeys());
        round.Server.Receive(keys);
        Assert.Throws<SecureAggregationProtocolException>(() => round.Server.Receive(keys));
        Assert.Throws<SecureAggregationThresholdException>(() => round.Server.CloseAdvertiseKeys());
        Assert.Throws<SecureAggregationProtocolException>(() => round.Server.Receive(new AdvertiseKeys(99, keys.Keys)));
        // A server advertising someone else's keys under client 1's id is refused by client 1.
        round.Server.Receive(round.Clients[1].AdvertiseKeys());
        round.Server.Receive(round.Clients[2].AdvertiseKeys());
        var advertised = round.Server.CloseAdvertiseKeys();
        var swapped = new AdvertisedKeys(advertised.Session,
            [new ClientKeys(1, advertised.Clients[1].CipherPublicKey, advertised.Clients[0].MaskPublicKey), advertised.Clients[1], advertised.Clients[2]]);
        Assert.Throws<SecureAggregationProtocolException>(() => client.ShareKeys(swapped));
    }

    [Fact]
    public void Wrong_length_vectors_are_refused()
    {
        using var round = new Round(3, 2, 6, 56);
        var advertised = round.Advertise();
        foreach (var c in round.Clients) round.Server.Receive(c.ShareKeys(advertised));
        var forwarded = round.Server.CloseShareKeys();
        Assert.Throws<SecureAggregationException>(() => round.Clients[0].MaskInput(forwarded[0], new float[5]));
        Assert.Throws<SecureAggregationException>(() => round.Clients[0].MaskEncodedInput(forwarded[0], new uint[7]));
        Assert.Throws<SecureAggregationException>(() => round.Server.Receive(new MaskedInput(round.Parameters.Session, 1, new uint[5])));
        Assert.Throws<SecureAggregationException>(() => SecureAggregation.Simulate([new float[4], new float[4], new float[3]], 2, None, None, 1));
    }

    // ---- Strict decoding ---------------------------------------------------------------------------------------

    private static List<(string Name, byte[] Bytes, Func<byte[], object> Decode)> SampleMessages(out SecureAggregationParameters parameters)
    {
        using var round = new Round(3, 2, 5, 61);
        var p = round.Parameters;
        var messages = new List<(string, byte[], Func<byte[], object>)>();
        var adv = round.Clients.Select(c => c.AdvertiseKeys()).ToList();
        messages.Add(("AdvertiseKeys", adv[0].Encode(), b => AdvertiseKeys.Decode(b, p)));
        adv.ForEach(round.Server.Receive);
        var advertised = round.Server.CloseAdvertiseKeys();
        messages.Add(("AdvertisedKeys", advertised.Encode(), b => AdvertisedKeys.Decode(b, p)));
        var shares = round.Clients.Select(c => c.ShareKeys(advertised)).ToList();
        messages.Add(("ShareKeys", shares[0].Encode(), b => ShareKeys.Decode(b, p)));
        shares.ForEach(round.Server.Receive);
        var forwarded = round.Server.CloseShareKeys();
        messages.Add(("ForwardedShares", forwarded[0].Encode(), b => ForwardedShares.Decode(b, p)));
        var masked = round.Clients.Select(c => c.MaskInput(forwarded[c.Id - 1], round.Inputs[c.Id - 1])).ToList();
        messages.Add(("MaskedInput", masked[0].Encode(), b => MaskedInput.Decode(b, p)));
        round.Server.Receive(masked[0]);
        round.Server.Receive(masked[1]);
        var request = round.Server.CloseMaskedInput();
        messages.Add(("UnmaskRequest", request.Encode(), b => UnmaskRequest.Decode(b, p)));
        messages.Add(("UnmaskingShares", round.Clients[0].Unmask(request).Encode(), b => UnmaskingShares.Decode(b, p)));
        parameters = p;
        return messages;
    }

    [Fact]
    public void Messages_round_trip_through_their_encoding()
    {
        foreach (var (name, bytes, decode) in SampleMessages(out _))
        {
            var again = decode(bytes) switch
            {
                AdvertiseKeys m => m.Encode(),
                AdvertisedKeys m => m.Encode(),
                ShareKeys m => m.Encode(),
                ForwardedShares m => m.Encode(),
                MaskedInput m => m.Encode(),
                UnmaskRequest m => m.Encode(),
                UnmaskingShares m => m.Encode(),
                _ => throw new InvalidOperationException(name),
            };
            Assert.Equal(bytes, again);
            output.WriteLine($"{name}: {bytes.Length} bytes");
        }
    }

    [Fact]
    public void Truncated_oversized_and_altered_messages_are_rejected_with_typed_errors()
    {
        foreach (var (name, bytes, decode) in SampleMessages(out _))
        {
            for (var cut = 0; cut < bytes.Length; cut++)
                Assert.Throws<SecureAggregationFormatException>(() => decode(bytes[..cut]));
            Assert.Throws<SecureAggregationFormatException>(() => decode([.. bytes, 0]));
            Assert.Throws<SecureAggregationFormatException>(() => decode([.. bytes, .. new byte[1000]]));
            var version = (byte[])bytes.Clone();
            version[0] = 2;
            Assert.Throws<SecureAggregationFormatException>(() => decode(version));
            var type = (byte[])bytes.Clone();
            type[1] = (byte)(type[1] % 7 + 1);
            Assert.Throws<SecureAggregationFormatException>(() => decode(type));
            var session = (byte[])bytes.Clone();
            session[5] ^= 1;
            Assert.Throws<SecureAggregationProtocolException>(() => decode(session));
            // The first id/count field after the header: 0 or 0xFFFF is out of range (as an id) or too many (as a count).
            foreach (var v in new ushort[] { 0, 0xFFFF })
            {
                var field = (byte[])bytes.Clone();
                BinaryPrimitives.WriteUInt16LittleEndian(field.AsSpan(10), v);
                if (name == "UnmaskRequest" && v == 0) continue; // an empty seed list is well-formed (then the lengths are off)
                Assert.Throws<SecureAggregationFormatException>(() => decode(field));
            }
            output.WriteLine($"{name}: every truncation, extension and header change rejected");
        }
    }

    [Fact]
    public void Specific_malformations_are_rejected()
    {
        var messages = SampleMessages(out var p).ToDictionary(m => m.Name);
        // A masked input announcing another length.
        var masked = (byte[])messages["MaskedInput"].Bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(masked.AsSpan(12), 6);
        Assert.Throws<SecureAggregationFormatException>(() => MaskedInput.Decode(masked, p));
        BinaryPrimitives.WriteInt32LittleEndian(masked.AsSpan(12), -1);
        Assert.Throws<SecureAggregationFormatException>(() => MaskedInput.Decode(masked, p));
        // Unmasking shares: an unknown kind, a share value not below the group order, a repeated subject.
        var unmask = messages["UnmaskingShares"].Bytes;
        var kind = (byte[])unmask.Clone();
        kind[16] = 3;
        Assert.Throws<SecureAggregationFormatException>(() => UnmaskingShares.Decode(kind, p));
        var big = (byte[])unmask.Clone();
        big.AsSpan(17, 32).Fill(0xFF);
        Assert.Throws<SecureAggregationFormatException>(() => UnmaskingShares.Decode(big, p));
        var repeated = (byte[])unmask.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(repeated.AsSpan(14 + 3 + 32), 1); // second entry's subject := first's
        Assert.Throws<SecureAggregationFormatException>(() => UnmaskingShares.Decode(repeated, p));
        // Share keys: a client addressing itself; an id above n.
        var share = (byte[])messages["ShareKeys"].Bytes.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(share.AsSpan(14), 1);
        Assert.Throws<SecureAggregationFormatException>(() => ShareKeys.Decode(share, p));
        BinaryPrimitives.WriteUInt16LittleEndian(share.AsSpan(14), 4);
        Assert.Throws<SecureAggregationFormatException>(() => ShareKeys.Decode(share, p));
        // Unmask request: unsorted ids.
        Assert.Throws<SecureAggregationFormatException>(() => new UnmaskRequest(p.Session, [2, 1], []));
        Assert.Throws<SecureAggregationFormatException>(() => UnmaskRequest.Decode([1, 6, .. BitConverter.GetBytes(p.Session), 2, 0, 2, 0, 1, 0, 0, 0], p));
        // Constructors refuse what could not be encoded.
        Assert.Throws<SecureAggregationFormatException>(() => new ClientKeys(1, new byte[31], new byte[32]));
        Assert.Throws<SecureAggregationFormatException>(() => new EncryptedShare(2, new byte[10]));
        Assert.Throws<SecureAggregationFormatException>(() => new RevealedShare(2, UnmaskShareKind.Seed, new byte[64]));
    }

    [Property(MaxTest = 300)]
    public Property Random_corruption_never_escapes_as_an_untyped_exception() => Prop.ForAll(
        Arb.From(Gen.Choose(0, 6)), Arb.From(Gen.Choose(0, int.MaxValue)), (which, seed) =>
        {
            var messages = Corpus.Value;
            var (name, bytes, decode) = messages[which];
            var random = new Random(seed);
            var corrupted = (byte[])bytes.Clone();
            for (var k = random.Next(1, 4); k > 0; k--) corrupted[random.Next(corrupted.Length)] = (byte)random.Next(256);
            if (random.Next(4) == 0) corrupted = corrupted[..random.Next(corrupted.Length)];
            try
            {
                decode(corrupted);
                return true.Label($"{name} seed {seed}: decoded");
            }
            catch (SecureAggregationException)
            {
                return true.Label($"{name} seed {seed}: rejected");
            }
        });

    private static readonly Lazy<List<(string Name, byte[] Bytes, Func<byte[], object> Decode)>> Corpus = new(() => SampleMessages(out _));

    // ---- CLI --------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Cli_checks_the_secure_sum_and_prints_the_overhead()
    {
        var (code, stdout, stderr) = await CliRun.Run("fl", "secagg", "--clients", "5", "--params", "200", "--drop", "1",
            "--drop-after-masking", "1", "--seed", "3");
        output.WriteLine(stdout + stderr);
        Assert.Equal(0, code);
        Assert.Contains("ring sum exact:         yes", stdout, StringComparison.Ordinal);
        Assert.Contains("bytes per client", stdout, StringComparison.Ordinal);
        Assert.Contains("server compute", stdout, StringComparison.Ordinal);
        Assert.Contains("ok: the secure sum equals", stdout, StringComparison.Ordinal);

        (code, _, stderr) = await CliRun.Run("fl", "secagg", "--clients", "5", "--threshold", "2");
        Assert.Equal(2, code);
        Assert.Contains("--threshold", stderr, StringComparison.Ordinal);
        (code, _, _) = await CliRun.Run("fl", "secagg", "--clients", "1");
        Assert.Equal(2, code);
        (code, _, _) = await CliRun.Run("fl", "secagg", "--clients", "5", "--params", "x");
        Assert.Equal(2, code);
        (code, _, stderr) = await CliRun.Run("fl", "secagg", "--clients", "5", "--params", "10", "--drop", "3");
        Assert.Equal(1, code);
        Assert.Contains("threshold", stderr, StringComparison.Ordinal);
    }
}
