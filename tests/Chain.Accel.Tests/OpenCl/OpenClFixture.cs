using Chain.Accel.Offload;
using Chain.Accel.OpenCL;

namespace Chain.Accel.Tests.OpenCl;

/// <summary>
/// One OpenCL backend shared by the OpenCL test classes (building the kernels is the slow part). There is no skip:
/// without an OpenCL platform every OpenCL test fails with the reason, since CI has one (scripts/setup.sh installs
/// PoCL, the CPU implementation).
/// </summary>
public sealed class OpenClFixture : IDisposable
{
    public OpenClFixture()
    {
        try
        {
            Accelerator = new OpenClAccelerator();
            Small = new OpenClAccelerator(null, null, SmallChunkBytes, SmallChunkItems);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(
                "The OpenCL tests need an OpenCL platform and device; scripts/setup.sh installs PoCL (Debian packages "
                + $"pocl-opencl-icd and ocl-icd-libopencl1). Starting the backend failed: {e.Message}", e);
        }
    }

    /// <summary>Launch limits of <see cref="Small"/>: batches split into many launches.</summary>
    public const int SmallChunkBytes = 1000, SmallChunkItems = 7;

    public OpenClAccelerator Accelerator { get; }

    /// <summary>The same device with launches of at most 7 items and 1,000 bytes, to exercise the splitting.</summary>
    public OpenClAccelerator Small { get; }

    /// <summary>Where the build put the plugin for the loader (as it does beside the node).</summary>
    public static string PluginFolder => Path.Combine(AppContext.BaseDirectory, "plugins", OpenClAccelerator.BackendName);

    public static IAccelerator Reference => CpuAccelerator.Instance;

    public void Dispose()
    {
        Accelerator.Dispose();
        Small.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class OpenClCollection : ICollectionFixture<OpenClFixture>
{
    public const string Name = "OpenCL";
}
