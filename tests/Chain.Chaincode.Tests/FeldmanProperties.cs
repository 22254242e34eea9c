using Chain.Chaincode.Custody;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using BigInteger = Org.BouncyCastle.Math.BigInteger;

namespace Chain.Chaincode.Tests;

/// <summary>
/// Feldman VSS as properties. Each case draws a seed (printed on failure: the case replays from it) that fixes the
/// secret, the polynomial, t and n.
/// </summary>
public sealed class FeldmanProperties
{
    private const int Cases = 40;

    private static readonly Arbitrary<int> Seeds = ArbMap.Default.ArbFor<int>();

    private static Func<BigInteger> Source(Random rng) => () =>
    {
        while (true)
        {
            var bytes = new byte[32];
            rng.NextBytes(bytes);
            var r = new BigInteger(1, bytes);
            if (r.SignValue > 0 && r.CompareTo(Feldman.Order) < 0) return r;
        }
    };

    private static (Dealing Dealing, BigInteger Secret, int T, int N, Random Rng) Deal(int seed)
    {
        var rng = new Random(seed);
        var n = rng.Next(1, 17);
        var t = rng.Next(1, n + 1);
        var secret = Source(rng)();
        return (Feldman.Deal(secret, t, n, Source(rng)), secret, t, n, rng);
    }

    private static List<Share> Pick(Random rng, IReadOnlyList<Share> shares, int count) =>
        [.. shares.OrderBy(_ => rng.Next()).Take(count)];

    [Property(MaxTest = Cases)]
    public Property Any_t_shares_reconstruct_the_secret_and_every_share_verifies() => Prop.ForAll(Seeds, seed =>
    {
        var (dealing, secret, t, _, rng) = Deal(seed);
        Assert.All(dealing.Shares, s => Assert.True(Feldman.Verify(s, dealing.Commitments), $"seed {seed}: share {s.Index} does not verify"));
        Assert.True(secret.Equals(Feldman.Reconstruct(Pick(rng, dealing.Shares, t))), $"seed {seed}: t shares did not give the secret");
        Assert.Equal(Feldman.Generator.Multiply(secret).Normalize(), dealing.Commitments[0]);
    });

    [Property(MaxTest = Cases)]
    public Property Fewer_than_t_shares_are_consistent_with_every_secret() => Prop.ForAll(Seeds, seed =>
    {
        var (dealing, secret, t, n, rng) = Deal(seed);
        if (t < 2 || t > n - 1) return;
        var few = Pick(rng, dealing.Shares, t - 1);
        // For any other candidate secret, the t-1 real shares plus one share of the polynomial through them and
        // (0, candidate) reconstruct the candidate: the t-1 shares alone rule no secret out. Only the commitments
        // tell the real dealing apart (the made-up share does not verify).
        var candidate = Source(rng)();
        var points = few.Append(new Share(0, candidate)).ToList();
        var unused = dealing.Shares.First(s => few.All(f => f.Index != s.Index)).Index;
        var madeUp = new Share(unused, Interpolate(points, unused));
        Assert.True(candidate.Equals(Feldman.Reconstruct([.. few, madeUp])), $"seed {seed}: t-1 shares excluded a secret");
        Assert.True(secret.Equals(Feldman.Reconstruct([.. few, dealing.Shares[unused - 1]])), $"seed {seed}");
        Assert.False(Feldman.Verify(madeUp, dealing.Commitments), $"seed {seed}: a made-up share verified");
    });

    [Property(MaxTest = Cases)]
    public Property A_tampered_share_or_commitment_fails_verification() => Prop.ForAll(Seeds, seed =>
    {
        var (dealing, _, t, n, rng) = Deal(seed);
        var victim = dealing.Shares[rng.Next(n)];
        var tampered = victim with { Value = victim.Value.Add(BigInteger.ValueOf(rng.Next(1, 1000))).Mod(Feldman.Order) };
        Assert.False(Feldman.Verify(tampered, dealing.Commitments), $"seed {seed}: a tampered share verified");
        // (With t = 1 the polynomial is constant and every custodian holds the same share.)
        Assert.False(t > 1 && Feldman.Verify(victim with { Index = victim.Index % n + 1 }, dealing.Commitments), $"seed {seed}: a share verified at another index");
        var commitments = dealing.Commitments.ToList();
        var j = rng.Next(commitments.Count);
        commitments[j] = commitments[j].Add(Feldman.Generator).Normalize();
        Assert.False(Feldman.Verify(victim, commitments), $"seed {seed}: a share verified against altered commitments");
    });

    [Property(MaxTest = Cases)]
    public Property A_refresh_keeps_the_secret_and_old_shares_do_not_combine_with_new_ones() => Prop.ForAll(Seeds, seed =>
    {
        var (dealing, secret, t, n, rng) = Deal(seed);
        if (t < 2) return;
        var refresh = Feldman.DealRefresh(t, n, Source(rng));
        Assert.True(refresh.Commitments[0].IsInfinity);
        var renewed = dealing.Shares.Select(s => Feldman.Refresh(s, dealing.Commitments, refresh.Shares[s.Index - 1], refresh.Commitments)).ToList();
        var commitments = renewed[0].Commitments;
        Assert.All(renewed, r => Assert.True(Feldman.Verify(r.Share, commitments), $"seed {seed}: refreshed share does not verify"));
        var fresh = renewed.Select(r => r.Share).ToList();
        Assert.True(secret.Equals(Feldman.Reconstruct(Pick(rng, fresh, t))), $"seed {seed}: refresh changed the secret");
        // t-1 new shares and one old share (of a different custodian) give something else.
        var mixed = Pick(rng, fresh, t - 1);
        var old = dealing.Shares.First(s => mixed.All(m => m.Index != s.Index));
        Assert.False(secret.Equals(Feldman.Reconstruct([.. mixed, old])), $"seed {seed}: old and new shares combined");
        Assert.False(Feldman.Verify(old, commitments) && !refresh.Shares[old.Index - 1].Value.Equals(BigInteger.Zero), $"seed {seed}: an old share verified against the new commitments");
    });

    [Fact]
    public void Points_round_trip_and_garbage_is_refused()
    {
        var rng = new Random(7);
        var dealing = Feldman.Deal(Source(rng)(), 3, 5, Source(rng));
        foreach (var c in dealing.Commitments) Assert.Equal(c, Feldman.Decode(Feldman.Encode(c)));
        Assert.True(Feldman.Decode([0]).IsInfinity);
        Assert.Throws<ArgumentException>(() => Feldman.Decode(new byte[33]));
        Assert.Throws<ArgumentException>(() => Feldman.Decode([2, 1, 2, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Feldman.Deal(BigInteger.Zero, 2, 3, Source(rng)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Feldman.Deal(BigInteger.One, 4, 3, Source(rng)));
    }

    private static BigInteger Interpolate(IReadOnlyList<Share> points, int at)
    {
        var q = Feldman.Order;
        var x = BigInteger.ValueOf(at);
        var result = BigInteger.Zero;
        foreach (var pi in points)
        {
            var num = BigInteger.One;
            var den = BigInteger.One;
            foreach (var pj in points.Where(p => p.Index != pi.Index))
            {
                num = num.Multiply(x.Subtract(BigInteger.ValueOf(pj.Index))).Mod(q);
                den = den.Multiply(BigInteger.ValueOf(pi.Index - pj.Index)).Mod(q);
            }
            result = result.Add(pi.Value.Multiply(num).Multiply(den.ModInverse(q))).Mod(q);
        }
        return result;
    }
}
