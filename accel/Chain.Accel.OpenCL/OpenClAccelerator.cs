using System.Reflection;
using Chain.Accel.Offload;
using Silk.NET.OpenCL;

namespace Chain.Accel.OpenCL;

/// <summary>
/// The OpenCL backend: batch SHA-256 and Merkle levels as OpenCL C kernels (Kernels/sha256.cl) on one device.
/// <para>A SHA-256 batch is packed into one device buffer (messages back to back, with offsets and lengths beside
/// them) and hashed one work-item per message; a Merkle level is one work-item per pair. Batches larger than
/// <see cref="MaxChunkBytes"/> run as several launches; a single message larger than the device's largest buffer is
/// hashed on the host by the reference. Ed25519 verification and AES-GCM are not offloaded: they are not in
/// <see cref="Capabilities"/> and the methods run the CPU reference.</para>
/// <para>Calls are serialised on one lock (one command queue); buffers are kept and grown between calls, so a
/// steady load allocates nothing on the device after the first batches.</para>
/// </summary>
public sealed unsafe class OpenClAccelerator : IAccelerator
{
    public const string BackendName = "opencl";

    /// <summary>At most this many message bytes go into one launch.</summary>
    public const long MaxChunkBytes = 64L << 20;

    /// <summary>At most this many messages or Merkle pairs go into one launch.</summary>
    public const int MaxChunkItems = 1 << 20;

    private const int DigestSize = Hash32.Size;

    private readonly Lock _gate = new();
    private readonly ClDevice _device;
    private readonly nint _shaKernel;
    private readonly nint _merkleKernel;
    private readonly int _group;
    private readonly long _maxMessage;
    private readonly long _chunkBytes;
    private readonly int _chunkItems;
    private DeviceBuffer _data, _offsets, _lengths, _digests, _level, _next;
    private bool _disposed;

    /// <summary>Opens the first device matching the filters (substrings of the platform and device names; null: any).</summary>
    public OpenClAccelerator(string? platform = null, string? device = null)
        : this(platform, device, MaxChunkBytes, MaxChunkItems)
    {
    }

    /// <summary>With smaller launches than the defaults (the tests use this to exercise the splitting).</summary>
    internal OpenClAccelerator(string? platform, string? device, long chunkBytes, int chunkItems)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 2 * DigestSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkItems, 1);
        _chunkItems = chunkItems;
        _device = ClDevice.Open(platform, device);
        try
        {
            _device.Build(KernelSource());
            _shaKernel = _device.Kernel("sha256_batch");
            _merkleKernel = _device.Kernel("merkle_level");
            _group = Math.Min(64, Math.Min(_device.MaxGroupSize(_shaKernel), _device.MaxGroupSize(_merkleKernel)));
            _maxMessage = (long)Math.Min(_device.MaxAllocBytes, (ulong)Array.MaxLength);
            _chunkBytes = Math.Min(chunkBytes, _maxMessage);
            var preferred = (int)Math.Clamp(_device.ComputeUnits * 256L, 1024, 65536);
            Capabilities = new AcceleratorCapabilities(AccelOps.Sha256 | AccelOps.MerkleLevel, 64, preferred,
                $"{_device.DeviceName} ({_device.PlatformName})");
        }
        catch
        {
            ReleaseAll();
            throw;
        }
    }

    public string Name => BackendName;

    public AcceleratorCapabilities Capabilities { get; }

    public void Sha256(IReadOnlyList<ReadOnlyMemory<byte>> messages, Span<Hash32> digests, byte? tag = null)
    {
        AccelArgs.CheckSha256(messages, digests);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var i = 0;
            while (i < messages.Count)
            {
                if (messages[i].Length > _maxMessage)
                {
                    var span = messages[i].Span;
                    digests[i] = tag is { } t ? Hashing.Tagged(t, span) : Hashing.Sha256(span);
                    i++;
                    continue;
                }
                var end = ChunkEnd(messages, i);
                HashChunk(messages, i, end, digests, tag);
                i = end;
            }
        }
    }

    public int MerkleLevel(byte tag, ReadOnlySpan<Hash32> level, Span<Hash32> next)
    {
        var count = AccelArgs.CheckMerkleLevel(level, next);
        var pairs = level.Length / 2;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var perLaunch = (int)Math.Min(_chunkItems, _chunkBytes / (2 * DigestSize));
            for (var from = 0; from < pairs; from += perLaunch)
            {
                var n = Math.Min(perLaunch, pairs - from);
                MerkleChunk(tag, level.Slice(2 * from, 2 * n), next.Slice(from, n));
            }
        }
        if ((level.Length & 1) == 1) next[count - 1] = level[^1];
        return count;
    }

    /// <summary>Not offloaded: the CPU reference.</summary>
    public void VerifyEd25519(ReadOnlySpan<SignatureCheck> checks, Span<bool> results) =>
        CpuAccelerator.Instance.VerifyEd25519(checks, results);

    /// <summary>Not offloaded: the CPU reference.</summary>
    public void SealAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items) =>
        CpuAccelerator.Instance.SealAesGcm(key, items);

    /// <summary>Not offloaded: the CPU reference.</summary>
    public void OpenAesGcm(ReadOnlySpan<byte> key, ReadOnlySpan<AeadItem> items, Span<bool> results) =>
        CpuAccelerator.Instance.OpenAesGcm(key, items, results);

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            ReleaseAll();
        }
    }

    /// <summary>The end of the launch that starts at message <paramref name="from"/> (at least one message).</summary>
    private int ChunkEnd(IReadOnlyList<ReadOnlyMemory<byte>> messages, int from)
    {
        long bytes = messages[from].Length;
        var end = from + 1;
        while (end < messages.Count && end - from < _chunkItems && bytes + messages[end].Length <= _chunkBytes)
        {
            bytes += messages[end].Length;
            end++;
        }
        return end;
    }

    private void HashChunk(IReadOnlyList<ReadOnlyMemory<byte>> messages, int from, int to, Span<Hash32> digests, byte? tag)
    {
        var count = to - from;
        long total = 0;
        for (var i = from; i < to; i++) total += messages[i].Length;
        _data.Ensure(_device, MemFlags.ReadOnly, Math.Max(total, 1), _chunkBytes);
        _offsets.Ensure(_device, MemFlags.ReadOnly, count * 8L, long.MaxValue);
        _lengths.Ensure(_device, MemFlags.ReadOnly, count * 4L, long.MaxValue);
        _digests.Ensure(_device, MemFlags.WriteOnly, count * (long)DigestSize, long.MaxValue);
        var offsets = (ulong*)_device.Map(_offsets.Handle, count * 8L, _device.WriteMapFlags);
        var lengths = (uint*)_device.Map(_lengths.Handle, count * 4L, _device.WriteMapFlags);
        var data = total > 0 ? _device.Map(_data.Handle, total, _device.WriteMapFlags) : null;
        try
        {
            long offset = 0;
            for (var i = from; i < to; i++)
            {
                var span = messages[i].Span;
                span.CopyTo(new Span<byte>(data + offset, span.Length));
                offsets[i - from] = (ulong)offset;
                lengths[i - from] = (uint)span.Length;
                offset += span.Length;
            }
        }
        finally
        {
            if (data != null) _device.Unmap(_data.Handle, data);
            _device.Unmap(_lengths.Handle, (byte*)lengths);
            _device.Unmap(_offsets.Handle, (byte*)offsets);
        }
        _device.SetArg(_shaKernel, 0, _data.Handle);
        _device.SetArg(_shaKernel, 1, _offsets.Handle);
        _device.SetArg(_shaKernel, 2, _lengths.Handle);
        _device.SetArg(_shaKernel, 3, (uint)count);
        _device.SetArg(_shaKernel, 4, tag is null ? 0u : 1u);
        _device.SetArg(_shaKernel, 5, (uint)(tag ?? 0));
        _device.SetArg(_shaKernel, 6, _digests.Handle);
        _device.Run(_shaKernel, count, GroupSize(count));
        ReadDigests(_digests.Handle, digests.Slice(from, count));
    }

    private void MerkleChunk(byte tag, ReadOnlySpan<Hash32> level, Span<Hash32> next)
    {
        var pairs = next.Length;
        _level.Ensure(_device, MemFlags.ReadOnly, level.Length * (long)DigestSize, long.MaxValue);
        _next.Ensure(_device, MemFlags.WriteOnly, pairs * (long)DigestSize, long.MaxValue);
        var input = _device.Map(_level.Handle, level.Length * (long)DigestSize, _device.WriteMapFlags);
        try
        {
            for (var i = 0; i < level.Length; i++) level[i].WriteTo(new Span<byte>(input + (long)i * DigestSize, DigestSize));
        }
        finally
        {
            _device.Unmap(_level.Handle, input);
        }
        _device.SetArg(_merkleKernel, 0, _level.Handle);
        _device.SetArg(_merkleKernel, 1, (uint)pairs);
        _device.SetArg(_merkleKernel, 2, (uint)tag);
        _device.SetArg(_merkleKernel, 3, _next.Handle);
        _device.Run(_merkleKernel, pairs, GroupSize(pairs));
        ReadDigests(_next.Handle, next);
    }

    /// <summary>
    /// The work-group size for <paramref name="items"/> work-items: up to 64, halved while that would leave compute
    /// units idle, so a batch of a few long messages still spreads over every core (PoCL runs one group per thread).
    /// </summary>
    private int GroupSize(long items)
    {
        var group = _group;
        while (group > 1 && (items + group - 1) / group < _device.ComputeUnits) group /= 2;
        return group;
    }

    private void ReadDigests(nint buffer, Span<Hash32> into)
    {
        var output = _device.Map(buffer, into.Length * (long)DigestSize, MapFlags.Read);
        try
        {
            for (var i = 0; i < into.Length; i++)
                into[i] = Hash32.FromBytes(new ReadOnlySpan<byte>(output + (long)i * DigestSize, DigestSize));
        }
        finally
        {
            _device.Unmap(buffer, output);
        }
    }

    private void ReleaseAll()
    {
        _data.Release(_device);
        _offsets.Release(_device);
        _lengths.Release(_device);
        _digests.Release(_device);
        _level.Release(_device);
        _next.Release(_device);
        _device.ReleaseKernel(_shaKernel);
        _device.ReleaseKernel(_merkleKernel);
        _device.Dispose();
    }

    private static string KernelSource()
    {
        const string name = "Chain.Accel.OpenCL.Kernels.sha256.cl";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"the kernel source {name} is not embedded in the plugin");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>A device buffer kept between calls and grown (doubling, up to a limit) when a batch needs more.</summary>
    private struct DeviceBuffer
    {
        public nint Handle;
        private long _capacity;

        public void Ensure(ClDevice device, MemFlags flags, long bytes, long limit)
        {
            if (bytes <= _capacity) return;
            var capacity = Math.Max(bytes, Math.Min(Math.Max(_capacity * 2, 4096), limit));
            Release(device);
            Handle = device.CreateBuffer(flags, capacity);
            _capacity = capacity;
        }

        public void Release(ClDevice device)
        {
            device.Release(Handle);
            Handle = 0;
            _capacity = 0;
        }
    }
}
