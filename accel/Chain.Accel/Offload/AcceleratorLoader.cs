using System.Reflection;
using System.Runtime.Loader;

namespace Chain.Accel.Offload;

/// <summary>
/// What a plugin assembly exports: a public class with a parameterless constructor that makes its backend. The
/// loader finds it by this interface (shared with the host, so the plugin must not carry its own Chain.Accel).
/// </summary>
public interface IAcceleratorFactory
{
    /// <summary>The backend name the node's config uses ("opencl").</summary>
    string Name { get; }

    /// <summary>Starts the backend (finds the device, builds kernels); throws if it cannot.</summary>
    IAccelerator Create(IReadOnlyDictionary<string, string> options);
}

/// <summary>The accelerator section of a node's config.</summary>
public sealed record AcceleratorSettings
{
    /// <summary>"cpu" (the reference), "cpu-parallel" (the default), or a plugin's name ("opencl").</summary>
    public string Backend { get; init; } = ParallelCpuAccelerator.BackendName;

    /// <summary>
    /// The plugin's main assembly, or a folder holding it (the one .dll with a .deps.json beside it). Default:
    /// <c>plugins/&lt;backend&gt;/</c> beside the host's own assemblies.
    /// </summary>
    public string? Path { get; init; }

    /// <summary>Backend-specific options (for OpenCL: "platform", "device").</summary>
    public Dictionary<string, string> Options { get; init; } = new();

    /// <summary>How a non-reference backend's results are cross-checked.</summary>
    public CrossCheckPolicy CrossCheck { get; init; } = new();
}

/// <summary>
/// Builds the accelerator a config names. Built-in backends need nothing; a plugin is loaded from its own assembly
/// in its own <see cref="AssemblyLoadContext"/> (its dependencies resolved from its .deps.json, Chain.Accel shared
/// with the host). Whatever is named, the result is usable: a plugin that is missing, does not load or fails to
/// start is reported through the log callback and replaced by the CPU reference. Every backend other than the
/// reference comes wrapped in a <see cref="CheckedAccelerator"/>.
/// </summary>
public static class AcceleratorLoader
{
    public static IAccelerator Load(AcceleratorSettings settings, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var name = settings.Backend?.Trim() ?? "";
        switch (name)
        {
            case CpuAccelerator.BackendName:
                return CpuAccelerator.Instance;
            case ParallelCpuAccelerator.BackendName:
                return new CheckedAccelerator(new ParallelCpuAccelerator(), policy: settings.CrossCheck);
        }
        try
        {
            if (name.Length == 0 || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                throw new AcceleratorLoadException($"'{settings.Backend}' is not a backend name (letters, digits, '-', '_')");
            var backend = LoadPlugin(name, settings);
            log?.Invoke($"accelerator: {backend.Name} on {backend.Capabilities.Device} ({backend.Capabilities.Supported})");
            return new CheckedAccelerator(backend, policy: settings.CrossCheck);
        }
        catch (Exception e)
        {
            log?.Invoke($"accelerator: backend '{settings.Backend}' is unavailable, using the CPU reference instead: {e.Message}");
            return CpuAccelerator.Instance;
        }
    }

    /// <summary>The main assembly of plugin <paramref name="name"/>: the configured path, or its default folder.</summary>
    public static string ResolveAssembly(string name, string? path)
    {
        var target = path ?? System.IO.Path.Combine(AppContext.BaseDirectory, "plugins", name);
        if (File.Exists(target)) return System.IO.Path.GetFullPath(target);
        if (!Directory.Exists(target)) throw new AcceleratorLoadException($"no plugin at {target}");
        var mains = Directory.GetFiles(target, "*.dll")
            .Where(f => File.Exists(System.IO.Path.ChangeExtension(f, ".deps.json")))
            .ToList();
        return mains.Count == 1
            ? System.IO.Path.GetFullPath(mains[0])
            : throw new AcceleratorLoadException($"{target} holds {mains.Count} plugin assemblies (a .dll with a .deps.json), expected 1");
    }

    private static IAccelerator LoadPlugin(string name, AcceleratorSettings settings)
    {
        var assemblyPath = ResolveAssembly(name, settings.Path);
        var context = new PluginLoadContext(assemblyPath);
        Assembly assembly;
        try
        {
            assembly = context.LoadFromAssemblyPath(assemblyPath);
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
        {
            throw new AcceleratorLoadException($"{assemblyPath} does not load: {e.Message}");
        }
        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException)
        {
            throw new AcceleratorLoadException($"{assemblyPath}: {e.Message}");
        }
        var factories = types
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IAcceleratorFactory).IsAssignableFrom(t))
            .Select(t => (IAcceleratorFactory)Activator.CreateInstance(t)!)
            .ToList();
        var factory = factories.FirstOrDefault(f => f.Name == name)
            ?? throw new AcceleratorLoadException(factories.Count == 0
                ? $"{assemblyPath} exports no {nameof(IAcceleratorFactory)} (or carries its own copy of Chain.Accel)"
                : $"{assemblyPath} offers {string.Join(", ", factories.Select(f => f.Name))}, not '{name}'");
        return factory.Create(settings.Options);
    }

    /// <summary>A plugin's own load context: its dependencies from its .deps.json, the shared contract from the host.</summary>
    private sealed class PluginLoadContext(string mainAssembly) : AssemblyLoadContext($"accel:{System.IO.Path.GetFileNameWithoutExtension(mainAssembly)}")
    {
        private static readonly HashSet<string> Shared = ["Chain.Accel", "NSec.Cryptography"];
        private readonly AssemblyDependencyResolver _resolver = new(mainAssembly);

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            if (assemblyName.Name is { } n && Shared.Contains(n)) return null;
            return _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;
        }

        protected override nint LoadUnmanagedDll(string unmanagedDllName) =>
            _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : 0;
    }
}

/// <summary>A named accelerator backend could not be loaded or started.</summary>
public sealed class AcceleratorLoadException(string message) : Exception(message);
