using System.Reflection;
using TorchSharp;

namespace Chain.Ai.Torch;

/// <summary>What <see cref="TorchRuntime.EnsureLoaded"/> found: versions and the device computations run on.</summary>
/// <param name="TorchSharpVersion">The TorchSharp bindings' version (e.g. 0.107.0).</param>
/// <param name="LibTorchVersion">The libtorch version TorchSharp was built for (e.g. 2.10.0).</param>
/// <param name="Device">The device tensors are created on: always <c>cpu</c> for now.</param>
/// <param name="Threads">libtorch's intra-op thread count.</param>
/// <param name="Seed">The seed set at load (<c>torch.manual_seed</c>).</param>
public sealed record TorchInfo(string TorchSharpVersion, string LibTorchVersion, string Device, int Threads, long Seed);

/// <summary>
/// Loads TorchSharp's native backend (libLibTorchSharp.so and libtorch, CPU build) once per process and seeds
/// libtorch's generator, so training and evaluation in this process are reproducible.
/// </summary>
public static class TorchRuntime
{
    /// <summary>The seed set at load unless <see cref="EnsureLoaded"/> is given another.</summary>
    public const long DefaultSeed = 20_260_808;

    /// <summary>The file the build patches (see README, "AI defense plugin").</summary>
    public const string NativeLibraryName = "libLibTorchSharp.so";

    private static readonly Lock Gate = new();
    private static TorchInfo? _info;

    /// <summary>
    /// Loads the CPU backend on the first call and seeds it with <paramref name="seed"/>; later calls return what the first
    /// found and change nothing. Throws (TorchSharp's <see cref="NotSupportedException"/> with its load trace) when the
    /// native libraries do not load, e.g. an unpatched libLibTorchSharp.so on a libstdc++ older than GLIBCXX_3.4.32.
    /// </summary>
    public static TorchInfo EnsureLoaded(long seed = DefaultSeed)
    {
        lock (Gate)
        {
            if (_info is not null) return _info;
            torch.InitializeDeviceType(DeviceType.CPU);
            torch.manual_seed(seed);
            var bindings = typeof(torch).Assembly;
            var version = bindings.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                          ?? bindings.GetName().Version?.ToString() ?? "unknown";
            var plus = version.IndexOf('+', StringComparison.Ordinal);
            if (plus >= 0) version = version[..plus];
            _info = new TorchInfo(version, torch.__version__, torch.CPU.ToString(), torch.get_num_threads(), seed);
            return _info;
        }
    }

    /// <summary>
    /// The copy of <see cref="NativeLibraryName"/> this process would load: beside the application, or under
    /// runtimes/linux-x64/native; null when neither exists.
    /// </summary>
    public static string? NativeLibraryPath(string? baseDirectory = null)
    {
        var root = baseDirectory ?? AppContext.BaseDirectory;
        foreach (var candidate in new[]
                 {
                     Path.Combine(root, NativeLibraryName),
                     Path.Combine(root, "runtimes", "linux-x64", "native", NativeLibraryName),
                 })
        {
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Whether the library at <paramref name="path"/> still needs <see cref="ElfVersionNeeds.GlibcxxMarkerVersion"/>.</summary>
    public static bool NeedsGlibcxxMarkerVersion(string path) =>
        ElfVersionNeeds.Read(File.ReadAllBytes(path)).Exists(n => n.Version == ElfVersionNeeds.GlibcxxMarkerVersion);
}
