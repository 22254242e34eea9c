using Chain.Accel.Offload;
using Silk.NET.OpenCL;

namespace Chain.Accel.OpenCL;

/// <summary>An OpenCL call that returned an error code.</summary>
public sealed class OpenClException(string message) : Exception(message);

/// <summary>
/// One OpenCL device with its context, in-order command queue and built program: the thin, unsynchronised layer over
/// Silk.NET that <see cref="OpenClAccelerator"/> drives (under its lock). Every call's error code is checked.
/// </summary>
internal sealed unsafe class ClDevice : IDisposable
{
    private readonly CL _cl;
    private readonly nint _device;
    private nint _context;
    private nint _queue;
    private nint _program;
    private bool _disposed;

    private ClDevice(CL cl, nint device, string platformName)
    {
        _cl = cl;
        _device = device;
        PlatformName = platformName;
        DeviceName = DeviceString(cl, device, DeviceInfo.Name);
        MaxAllocBytes = DeviceValue<ulong>(DeviceInfo.MaxMemAllocSize);
        ComputeUnits = Math.Max(1u, DeviceValue<uint>(DeviceInfo.MaxComputeUnits));
        Version = DeviceString(cl, device, DeviceInfo.Version);
        // CL_MAP_WRITE_INVALIDATE_REGION (no read-back of what is about to be overwritten) is OpenCL 1.2.
        var before12 = Version.StartsWith("OpenCL 1.0", StringComparison.Ordinal)
            || Version.StartsWith("OpenCL 1.1", StringComparison.Ordinal);
        WriteMapFlags = before12
            ? MapFlags.Write
            : MapFlags.WriteInvalidateRegion;
        if (DeviceValue<uint>(DeviceInfo.EndianLittle) == 0)
        {
            throw new AcceleratorLoadException(
                $"OpenCL device '{DeviceName}' is big-endian; only little-endian devices are supported");
        }
    }

    public string DeviceName { get; }

    public string PlatformName { get; }

    /// <summary>The largest single buffer the device allows (CL_DEVICE_MAX_MEM_ALLOC_SIZE).</summary>
    public ulong MaxAllocBytes { get; }

    public uint ComputeUnits { get; }

    /// <summary>CL_DEVICE_VERSION, e.g. "OpenCL 3.0 PoCL ...".</summary>
    public string Version { get; }

    /// <summary>How to map a buffer the host is about to fill.</summary>
    public MapFlags WriteMapFlags { get; }

    /// <summary>
    /// Opens the first device whose platform name contains <paramref name="platformFilter"/> and whose device name
    /// contains <paramref name="deviceFilter"/> (case-insensitive; null or empty matches any).
    /// </summary>
    public static ClDevice Open(string? platformFilter, string? deviceFilter)
    {
        CL cl;
        try
        {
            cl = CL.GetApi();
        }
        catch (Exception e)
        {
            throw new AcceleratorLoadException(
                "OpenCL: cannot load the OpenCL ICD loader libOpenCL.so.1 "
                + $"(on Debian: apt-get install ocl-icd-libopencl1): {e.Message}");
        }
        ClDevice opened;
        try
        {
            var (device, platform) = Choose(cl, platformFilter, deviceFilter);
            opened = new ClDevice(cl, device, platform);
        }
        catch
        {
            cl.Dispose();
            throw;
        }
        try
        {
            opened.Start();
            return opened;
        }
        catch
        {
            opened.Dispose();
            throw;
        }
    }

    private void Start()
    {
        int error;
        var device = _device;
        _context = _cl.CreateContext(null, 1, &device, null, null, &error);
        Check(error, "clCreateContext");
        _queue = _cl.CreateCommandQueue(_context, device, CommandQueueProperties.None, &error);
        Check(error, "clCreateCommandQueue");
    }

    /// <summary>Builds <paramref name="source"/> for this device; a compile error throws with the build log.</summary>
    public void Build(string source)
    {
        int error;
        _program = _cl.CreateProgramWithSource(_context, 1, [source], null, &error);
        Check(error, "clCreateProgramWithSource");
        var device = _device;
        var built = _cl.BuildProgram(_program, 1, &device, "", null, null);
        if (built != (int)ErrorCodes.Success)
            throw new AcceleratorLoadException($"OpenCL: the kernels do not build on '{DeviceName}' ({Name(built)}): {BuildLog()}");
    }

    public nint Kernel(string name)
    {
        int error;
        var kernel = _cl.CreateKernel(_program, name, &error);
        Check(error, $"clCreateKernel({name})");
        return kernel;
    }

    /// <summary>The largest work-group the device runs <paramref name="kernel"/> in.</summary>
    public int MaxGroupSize(nint kernel)
    {
        nuint size;
        Check(_cl.GetKernelWorkGroupInfo(kernel, _device, KernelWorkGroupInfo.WorkGroupSize, (nuint)sizeof(nuint), &size, null),
            "clGetKernelWorkGroupInfo");
        return (int)Math.Min(size, 1024u);
    }

    public nint CreateBuffer(MemFlags flags, long bytes)
    {
        int error;
        var buffer = _cl.CreateBuffer(_context, flags | MemFlags.AllocHostPtr, (nuint)bytes, null, &error);
        Check(error, $"clCreateBuffer({bytes} bytes)");
        return buffer;
    }

    public void Release(nint buffer)
    {
        if (buffer != 0) _cl.ReleaseMemObject(buffer);
    }

    public void SetArg<T>(nint kernel, uint index, T value) where T : unmanaged =>
        Check(_cl.SetKernelArg(kernel, index, (nuint)sizeof(T), &value), $"clSetKernelArg({index})");

    /// <summary>
    /// Enqueues <paramref name="kernel"/> over <paramref name="items"/> work-items in groups of <paramref name="group"/>
    /// (the global size rounded up to whole groups: the kernels ignore the work-items past their count).
    /// </summary>
    public void Run(nint kernel, long items, int group)
    {
        var local = (nuint)group;
        var global = (nuint)((items + group - 1) / group * group);
        Check(_cl.EnqueueNdrangeKernel(_queue, kernel, 1, null, &global, &local, 0, null, null), "clEnqueueNDRangeKernel");
    }

    /// <summary>Maps the first <paramref name="bytes"/> of a buffer into host memory (blocking: earlier commands are done).</summary>
    public byte* Map(nint buffer, long bytes, MapFlags flags)
    {
        int error;
        var p = _cl.EnqueueMapBuffer(_queue, buffer, true, flags, 0, (nuint)bytes, 0, null, null, &error);
        Check(error, "clEnqueueMapBuffer");
        return (byte*)p;
    }

    public void Unmap(nint buffer, byte* mapped) =>
        Check(_cl.EnqueueUnmapMemObject(_queue, buffer, mapped, 0, null, null), "clEnqueueUnmapMemObject");

    public void ReleaseKernel(nint kernel)
    {
        if (kernel != 0) _cl.ReleaseKernel(kernel);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_queue != 0) _cl.Finish(_queue);
        if (_program != 0) _cl.ReleaseProgram(_program);
        if (_queue != 0) _cl.ReleaseCommandQueue(_queue);
        if (_context != 0) _cl.ReleaseContext(_context);
        (_program, _queue, _context) = (0, 0, 0);
        _cl.Dispose();
    }

    public static void Check(int error, string call)
    {
        if (error != (int)ErrorCodes.Success) throw new OpenClException($"OpenCL: {call} failed with {Name(error)}");
    }

    private static string Name(int error) =>
        Enum.IsDefined(typeof(ErrorCodes), error)
            ? $"{(ErrorCodes)error} ({error})"
            : error.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static (nint Device, string Platform) Choose(CL cl, string? platformFilter, string? deviceFilter)
    {
        uint platformCount;
        var status = cl.GetPlatformIDs(0, null, &platformCount);
        if (status == (int)ErrorCodes.PlatformNotFoundKhr || (status == 0 && platformCount == 0))
            throw new AcceleratorLoadException(
                "OpenCL: no platform found (no ICD registered in /etc/OpenCL/vendors; "
                + "for the CPU, on Debian: apt-get install pocl-opencl-icd)");
        Check(status, "clGetPlatformIDs");
        var platforms = new nint[platformCount];
        fixed (nint* p = platforms) Check(cl.GetPlatformIDs(platformCount, p, null), "clGetPlatformIDs");
        var seen = new List<string>();
        foreach (var platform in platforms)
        {
            var platformName = PlatformString(cl, platform);
            foreach (var device in Devices(cl, platform))
            {
                var deviceName = DeviceString(cl, device, DeviceInfo.Name);
                seen.Add($"'{deviceName}' ({platformName})");
                if (Matches(platformName, platformFilter) && Matches(deviceName, deviceFilter)) return (device, platformName);
            }
        }
        throw new AcceleratorLoadException(seen.Count == 0
            ? "OpenCL: the platforms have no devices"
            : $"OpenCL: no device matches platform '{platformFilter}' and device '{deviceFilter}'; "
              + $"there are {string.Join(", ", seen)}");
    }

    private static nint[] Devices(CL cl, nint platform)
    {
        uint count;
        var status = cl.GetDeviceIDs(platform, DeviceType.All, 0, null, &count);
        if (status == (int)ErrorCodes.DeviceNotFound) return [];
        Check(status, "clGetDeviceIDs");
        var devices = new nint[count];
        fixed (nint* d = devices) Check(cl.GetDeviceIDs(platform, DeviceType.All, count, d, null), "clGetDeviceIDs");
        return devices;
    }

    private static bool Matches(string name, string? filter) =>
        string.IsNullOrEmpty(filter) || name.Contains(filter, StringComparison.OrdinalIgnoreCase);

    private static string PlatformString(CL cl, nint platform)
    {
        nuint size;
        Check(cl.GetPlatformInfo(platform, PlatformInfo.Name, 0, null, &size), "clGetPlatformInfo");
        var bytes = new byte[size];
        fixed (byte* b = bytes) Check(cl.GetPlatformInfo(platform, PlatformInfo.Name, size, b, null), "clGetPlatformInfo");
        return Text(bytes);
    }

    private static string DeviceString(CL cl, nint device, DeviceInfo info)
    {
        nuint size;
        Check(cl.GetDeviceInfo(device, info, 0, null, &size), "clGetDeviceInfo");
        var bytes = new byte[size];
        fixed (byte* b = bytes) Check(cl.GetDeviceInfo(device, info, size, b, null), "clGetDeviceInfo");
        return Text(bytes);
    }

    private T DeviceValue<T>(DeviceInfo info) where T : unmanaged
    {
        T value;
        Check(_cl.GetDeviceInfo(_device, info, (nuint)sizeof(T), &value, null), $"clGetDeviceInfo({info})");
        return value;
    }

    private string BuildLog()
    {
        nuint size;
        if (_cl.GetProgramBuildInfo(_program, _device, ProgramBuildInfo.BuildLog, 0, null, &size) != 0) return "(no build log)";
        var bytes = new byte[size];
        fixed (byte* b = bytes)
        {
            if (_cl.GetProgramBuildInfo(_program, _device, ProgramBuildInfo.BuildLog, size, b, null) != 0) return "(no build log)";
        }
        return Text(bytes);
    }

    private static string Text(byte[] bytes) => System.Text.Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
}
