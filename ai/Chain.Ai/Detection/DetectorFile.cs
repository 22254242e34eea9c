using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Chain.Ai.Data;
using Chain.Ai.Torch;
using TorchSharp;

namespace Chain.Ai.Detection;

/// <summary>
/// The detector's file format, version 1. All integers little-endian; a string is a u32 byte count and UTF-8 bytes.
/// <code>
/// magic     8 bytes "CHAINDET"
/// version   u32 (1)
/// group     string ("All", "Network" or "Vitals")
/// features  u32 count, then the feature names
/// families  u32 count, then the family names (benign first)
/// hidden    u32 count, then u32 widths
/// dropout   f64; compress u8 (0/1); threshold f32
/// scaler    f32 mean[features], f32 scale[features]
/// weights   u32 count, then per parameter: name string, u32 rank, i64 dims[rank], f32 values[product of dims]
/// checksum  32 bytes: SHA-256 of everything above
/// </code>
/// Nothing in it depends on time or machine, so the same model gives the same bytes (the ledger attests their hash).
/// </summary>
internal static class DetectorFile
{
    public const int Version = 1;
    private const int MaxStringBytes = 4096;
    private const int MaxCount = 1 << 20;
    private const long MaxFileBytes = 1L << 30;
    private static readonly byte[] Magic = "CHAINDET"u8.ToArray();

    public static byte[] Encode(Detector detector)
    {
        using var buffer = new MemoryStream();
        using (var w = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write((uint)Version);
            WriteString(w, detector.FeatureGroup.ToString());
            WriteStrings(w, detector.FeatureNames);
            WriteStrings(w, detector.Families);
            w.Write((uint)detector.Shape.Hidden.Length);
            foreach (var h in detector.Shape.Hidden) w.Write((uint)h);
            w.Write(detector.Shape.Dropout);
            w.Write(detector.Shape.CompressInputs ? (byte)1 : (byte)0);
            w.Write(detector.Threshold);
            foreach (var m in detector.Scaler.Mean) w.Write(m);
            foreach (var s in detector.Scaler.Scale) w.Write(s);
            var parameters = detector.Network.named_parameters().ToList();
            w.Write((uint)parameters.Count);
            foreach (var (name, p) in parameters)
            {
                WriteString(w, name);
                w.Write((uint)p.shape.Length);
                foreach (var d in p.shape) w.Write(d);
                using var scope = torch.NewDisposeScope();
                using var values = p.detach().contiguous().data<float>();
                foreach (var v in values.ToArray()) w.Write(v);
            }
        }
        var body = buffer.ToArray();
        return [.. body, .. SHA256.HashData(body)];
    }

    public static void Save(Detector detector, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = Encode(detector);
        var full = Path.GetFullPath(path);
        var temporary = full + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, full, overwrite: true);
    }

    public static Detector Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new DetectorFormatException($"{path}: no such model file");
        var length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new DetectorFormatException($"{path}: {length} bytes is too large for a detector model");
        return Decode(File.ReadAllBytes(path), path);
    }

    public static Detector Decode(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(name);
        if (bytes.Length < Magic.Length || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new DetectorFormatException($"{name}: not a Chain detector model (no CHAINDET header)");
        if (bytes.Length < Magic.Length + 4 + 32) throw new DetectorFormatException($"{name}: truncated detector model");
        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(Magic.Length));
        if (version != Version)
            throw new DetectorFormatException($"{name}: detector model format version {version}; this build reads version {Version}");
        var body = bytes.AsSpan(0, bytes.Length - 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - 32)))
            throw new DetectorFormatException($"{name}: the detector model is corrupt or truncated (checksum mismatch)");

        var r = new Reader(bytes, Magic.Length + 4, bytes.Length - 32, name);
        var groupName = r.String();
        if (!Enum.TryParse<FeatureGroup>(groupName, ignoreCase: false, out var group) || !Enum.IsDefined(group))
            throw r.Fail($"unknown feature group '{groupName}'");
        var features = r.Strings();
        var families = r.Strings();
        if (features.Length == 0) throw r.Fail("no features");
        if (families.Length == 0) throw r.Fail("no families");
        var hidden = new int[r.Count()];
        for (var i = 0; i < hidden.Length; i++)
        {
            hidden[i] = (int)Math.Min(r.U32(), int.MaxValue);
            if (hidden[i] is < 1 or > 4096) throw r.Fail($"hidden width {hidden[i]} out of range");
        }
        if (hidden.Length == 0) throw r.Fail("no hidden layers");
        var dropout = r.F64();
        if (!(dropout >= 0 && dropout < 1)) throw r.Fail("dropout out of range");
        var compress = r.U8() switch
        {
            0 => false,
            1 => true,
            var b => throw r.Fail($"bad flag {b}"),
        };
        var threshold = r.F32();
        if (!float.IsFinite(threshold)) throw r.Fail("threshold is not finite");
        var mean = r.F32s(features.Length);
        var scale = r.F32s(features.Length);
        if (mean.Any(m => !float.IsFinite(m)) || scale.Any(s => !(float.IsFinite(s) && s > 0)))
            throw r.Fail("the scaler holds a non-finite mean or a non-positive scale");

        TorchRuntime.EnsureLoaded();
        var shape = new Architecture(features.Length, hidden, dropout, compress, families.Length);
        var network = shape.Build();
        try
        {
            ReadWeights(r, network);
            if (!r.AtEnd) throw r.Fail("bytes left after the weights");
        }
        catch
        {
            network.Dispose();
            throw;
        }
        return new Detector(network, ScalerFactory.Create(mean, scale), features, group, families, threshold, shape, []);
    }

    private static void ReadWeights(Reader r, torch.nn.Module<torch.Tensor, torch.Tensor> network)
    {
        var parameters = network.named_parameters().ToList();
        var count = r.Count();
        if (count != parameters.Count) throw r.Fail($"{count} weight tensors; the architecture has {parameters.Count}");
        using var noGrad = torch.no_grad();
        foreach (var (expectedName, p) in parameters)
        {
            var name = r.String();
            if (name != expectedName) throw r.Fail($"weight '{name}' where '{expectedName}' was expected");
            var rank = r.Count();
            var dims = new long[rank];
            for (var k = 0; k < rank; k++) dims[k] = r.I64();
            if (!dims.SequenceEqual(p.shape))
                throw r.Fail($"weight '{name}' has shape [{string.Join(", ", dims)}], expected [{string.Join(", ", p.shape)}]");
            var values = r.F32s(checked((int)p.numel()));
            if (values.Any(v => !float.IsFinite(v))) throw r.Fail($"weight '{name}' holds a non-finite value");
            using var source = torch.tensor(values, dims);
            p.copy_(source);
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        if (bytes.Length > MaxStringBytes) throw new ArgumentException($"'{s[..40]}...' is longer than {MaxStringBytes} bytes");
        w.Write((uint)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteStrings(BinaryWriter w, IReadOnlyList<string> strings)
    {
        w.Write((uint)strings.Count);
        foreach (var s in strings) WriteString(w, s);
    }

    /// <summary>A bounds-checked reader over the checksummed body; every failure is a <see cref="DetectorFormatException"/>.</summary>
    private sealed class Reader(byte[] bytes, int start, int end, string name)
    {
        private int _at = start;

        public bool AtEnd => _at == end;

        public DetectorFormatException Fail(string what) =>
            new($"{name}: malformed detector model at byte {_at}: {what}");

        public ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || n > end - _at) throw Fail($"needs {n} more bytes, {end - _at} left (truncated?)");
            var span = bytes.AsSpan(_at, n);
            _at += n;
            return span;
        }

        public byte U8() => Take(1)[0];

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

        public double F64() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        public int Count()
        {
            var n = U32();
            if (n > MaxCount) throw Fail($"count {n} out of range");
            return (int)n;
        }

        public string String()
        {
            var n = U32();
            if (n > MaxStringBytes) throw Fail($"string of {n} bytes");
            try
            {
                return new UTF8Encoding(false, true).GetString(Take((int)n));
            }
            catch (DecoderFallbackException)
            {
                throw Fail("a string is not valid UTF-8");
            }
        }

        public string[] Strings()
        {
            var result = new string[Count()];
            for (var i = 0; i < result.Length; i++) result[i] = String();
            return result;
        }

        public float[] F32s(int n)
        {
            if (n > (end - _at) / 4) throw Fail($"needs {n} floats, {(end - _at) / 4} left (truncated?)");
            var result = new float[n];
            for (var i = 0; i < n; i++) result[i] = F32();
            return result;
        }
    }
}
