using System.Globalization;
using System.Numerics;
using BenchmarkDotNet.Attributes;
using Chain.Ai.Federated;
using BcBigInteger = Org.BouncyCastle.Math.BigInteger;

namespace Chain.Benchmarks;

/// <summary>
/// Paillier with g = n + 1 (issue 9): per ciphertext, the nonce power r^n mod n² three ways (System.Numerics
/// <see cref="BigInteger.ModPow"/>, BouncyCastle's ModPow, our <see cref="Montgomery"/>), a whole encryption (reference and
/// fast), the online part with a precomputed r^n, CRT decryption (reference and fast) and one homomorphic addition; and per
/// value, a 1,000-value update packed (32-bit slots, 10 clients: 63 values per ciphertext at 2048 bits, 95 at 3072) and
/// encrypted, decrypted or added on one thread. python-paillier's published 2048-bit figures per value: encrypt 19.6 ms,
/// decrypt 5.9 ms, add 0.06 ms. The keys are fixed (generated once, primes below) so that runs compare: benchmark-only keys,
/// public in this file, never to be used for anything else.
/// Run: dotnet run -c Release --project tests/Chain.Benchmarks -- --filter '*Paillier*' --job short
/// </summary>
[MemoryDiagnoser]
public class PaillierBenchmarks
{
    private const int Values = 1000;

    private static readonly Dictionary<int, (string P, string Q)> Primes = new()
    {
        [2048] = (
            "0C4E4AE19988BBA7732EBC1B31B2A752A8B1F00753BECC1C4AC5302605B5F050A669DD02DD14CBC70F2937BF71EE63F3F758"
            + "F703CDF8D909018F646DBE62B7CE0EB6B17BD9E84720B4EF489EADB81A56A711F43858529B30F347774A7B38B13E2F9646E0"
            + "AAA3C2D2BEFB84747B6C2A34BC5914515819E3787CE1B86903C8C61B5",
            "0F4E488A942A83748ED8CE9EEDB5CFB924F50B1836F3A8AB919B9282CAFA937D0EE6CDF8149CA20A8D203B87ADA219A66E6C"
            + "AEC0C27D10B999AB14170CB412EB62D8AEA51886B2F86498AFB0423B4E0DC6538CE2A43DA155CB34EDA17C456C82B8747065"
            + "02045F295DF386D0452B0396575DBCA623D8A5474317A559B624DED89"),
        [3072] = (
            "0D7DC020035DFEB31BEE3766E9A8A1950086E6E50D0F007F912EDAA441FE9B33DF933E68208C72095512B72FA7C20E3C351F"
            + "DA0DF75CE6B23A92B27645BBB9ABBAC2AB72316AFF344220E178E9BA512E02EEDB436054BD97FA53EC2F6D7C6BF3F392DC7C"
            + "42C03D6D048E894C623625979810B00A769335FC7C5338C9608CBF908BBAA2DEC2012B197B42970AD3DB5F752BF9448507BB"
            + "52E3A485628A8A37B8F1E8A8CC19B3817FB3F790B5972211031E42F1FD3B662D989666FD3ADABFAA5C05B",
            "0ECBFF4AC66A9735304D6A0C38BB30471303E43D9B6A9F7EED27A98A0361220EAD563B1DF182765076CA470143A45C35DD1C"
            + "00A24682C2F794B74CCAA93E92CF92C96CCFAAE8042460A19C176D63B19133AF8022153AB7E0CEAD28A603393EDE2100BBA5"
            + "FCD6EC52B1CBFBB8D47A8F8899366F9740A1061968F32ED5425B372A48978F2D21ED488E7B4612E9B752A2D0C9926BFA3E91"
            + "2B373164C695AC581F03033FF44E6D5B0B2E85AE6BDF232EE0ED0784A9706D7B2D97818FC3F888E1FBBF9"),
    };

    private PaillierKeyPair _keys = null!;
    private PaillierEncryptor _encryptor = null!;
    private PaillierDecryptor _decryptor = null!;
    private PaillierPacker _packer = null!;
    private BigInteger _m, _r, _rn, _c, _c2;
    private BcBigInteger _bcR = null!, _bcN = null!, _bcN2 = null!;
    private float[] _update = null!;
    private PaillierVector _vector = null!, _vector2 = null!;
    private PaillierEncryptOptions _oneThread = null!;

    [Params(2048, 3072)]
    public int Bits { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (p, q) = Primes[Bits];
        _keys = PaillierKeyPair.FromPrimes(Parse(p), Parse(q));
        var pub = _keys.PublicKey;
        _encryptor = new PaillierEncryptor(pub);
        _decryptor = new PaillierDecryptor(_keys.PrivateKey);
        _m = PaillierMath.RandomBelow(pub.N);
        _r = pub.RandomUnit();
        _rn = _encryptor.NoncePower(_r);
        _c = _encryptor.Encrypt(_m);
        _c2 = _encryptor.Encrypt(_m / 3);
        _bcR = Bc(_r);
        _bcN = Bc(pub.N);
        _bcN2 = Bc(pub.NSquared);
        _packer = new PaillierPacker(pub, fractionalBits: 24, slotBits: 32, maxAddends: 10);
        var random = new Random(9);
        _update = [.. Enumerable.Range(0, Values).Select(_ => (float)(random.NextDouble() * 2 - 1))];
        _oneThread = new PaillierEncryptOptions { Threads = 1 };
        _vector = PaillierVector.Encrypt(_encryptor, _packer, _update, _oneThread);
        _vector2 = PaillierVector.Encrypt(_encryptor, _packer, _update, _oneThread);
        if (new BigInteger(_bcR.ModPow(_bcN, _bcN2).ToByteArrayUnsigned(), isUnsigned: true, isBigEndian: true) != _rn
            || BigInteger.ModPow(_r, pub.N, pub.NSquared) != _rn || _decryptor.Decrypt(_c) != _m || _keys.PrivateKey.Decrypt(_c) != _m)
            throw new InvalidOperationException("the three ModPow paths or the two decryptions disagree");
    }

    [Benchmark(Baseline = true)]
    public BigInteger NoncePowerSystemNumerics() => BigInteger.ModPow(_r, _keys.PublicKey.N, _keys.PublicKey.NSquared);

    [Benchmark]
    public BcBigInteger NoncePowerBouncyCastle() => _bcR.ModPow(_bcN, _bcN2);

    [Benchmark]
    public BigInteger NoncePowerMontgomery() => _encryptor.NoncePower(_r);

    [Benchmark]
    public BigInteger EncryptReference() => _keys.PublicKey.Encrypt(_m);

    [Benchmark]
    public BigInteger EncryptMontgomery() => _encryptor.Encrypt(_m);

    [Benchmark]
    public BigInteger EncryptOnlinePrecomputed() => _encryptor.EncryptWithNoncePower(_m, _rn);

    [Benchmark]
    public BigInteger DecryptCrtReference() => _keys.PrivateKey.Decrypt(_c);

    [Benchmark]
    public BigInteger DecryptCrtMontgomery() => _decryptor.Decrypt(_c);

    [Benchmark]
    public BigInteger AddCiphertexts() => _keys.PublicKey.Add(_c, _c2);

    /// <summary>Per value: pack and encrypt a 1,000-value update on one thread.</summary>
    [Benchmark(OperationsPerInvoke = Values)]
    public PaillierVector EncryptPerValue() => PaillierVector.Encrypt(_encryptor, _packer, _update, _oneThread);

    /// <summary>Per value: decrypt and unpack a 1,000-value (two-client) sum on one thread.</summary>
    [Benchmark(OperationsPerInvoke = Values)]
    public float[] DecryptPerValue() => _vector.Add(_vector2).Decrypt(_decryptor, threads: 1);

    /// <summary>Per value: add two encrypted 1,000-value updates.</summary>
    [Benchmark(OperationsPerInvoke = Values)]
    public PaillierVector AddPerValue() => _vector.Add(_vector2);

    private static BigInteger Parse(string hex) => BigInteger.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static BcBigInteger Bc(BigInteger value) => new(1, value.ToByteArray(isUnsigned: true, isBigEndian: true));
}
