using Chain.Accel.Offload;

namespace Chain.Accel.OpenCL;

/// <summary>
/// The plugin's entry point, found by <see cref="AcceleratorLoader"/>: backend "opencl". Options (from the node's
/// config, <c>"accelerator": { "backend": "opencl", "options": { ... } }</c>): "platform" and "device", substrings
/// (case-insensitive) of the OpenCL platform and device names to choose; by default the first device of the first
/// platform. Unknown options are refused, so a misspelt one is not silently ignored.
/// </summary>
public sealed class OpenClAcceleratorFactory : IAcceleratorFactory
{
    public const string PlatformOption = "platform";
    public const string DeviceOption = "device";

    public string Name => OpenClAccelerator.BackendName;

    public IAccelerator Create(IReadOnlyDictionary<string, string> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string? platform = null, device = null;
        foreach (var (key, value) in options)
        {
            if (string.Equals(key, PlatformOption, StringComparison.OrdinalIgnoreCase)) platform = value;
            else if (string.Equals(key, DeviceOption, StringComparison.OrdinalIgnoreCase)) device = value;
            else
            {
                throw new AcceleratorLoadException(
                    $"OpenCL: unknown option '{key}' (the options are '{PlatformOption}' and '{DeviceOption}')");
            }
        }
        return new OpenClAccelerator(platform, device);
    }
}
