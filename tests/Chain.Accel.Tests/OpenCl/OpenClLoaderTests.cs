using Chain.Accel.Offload;

namespace Chain.Accel.Tests.OpenCl;

/// <summary>The plugin as the node loads it: from plugins/opencl/, in its own load context, behind the cross-checker.</summary>
[Collection(OpenClCollection.Name)]
public sealed class OpenClLoaderTests
{
    [Fact]
    public void The_built_plugin_folder_holds_one_plugin_and_no_copy_of_the_contract()
    {
        var folder = OpenClFixture.PluginFolder;
        Assert.True(File.Exists(Path.Combine(folder, "Chain.Accel.OpenCL.dll")), $"no plugin in {folder}");
        Assert.True(File.Exists(Path.Combine(folder, "Chain.Accel.OpenCL.deps.json")));
        Assert.False(File.Exists(Path.Combine(folder, "Chain.Accel.dll")), "the plugin must share the host's Chain.Accel");
        Assert.Empty(Directory.GetFiles(folder, "NSec*"));
        Assert.EndsWith("Chain.Accel.OpenCL.dll", AcceleratorLoader.ResolveAssembly("opencl", folder), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Loading_opencl_gives_the_checked_plugin_which_matches_the_reference(bool explicitPath)
    {
        var log = new List<string>();
        var settings = new AcceleratorSettings { Backend = "opencl", Path = explicitPath ? OpenClFixture.PluginFolder : null };
        using var loaded = AcceleratorLoader.Load(settings, log.Add);
        var checkedBackend = Assert.IsType<CheckedAccelerator>(loaded);
        Assert.Equal("opencl", checkedBackend.Backend.Name);
        Assert.Equal("opencl", loaded.Name);
        // Loaded in the plugin's own context, not the test's copy of the assembly.
        Assert.NotSame(typeof(Chain.Accel.OpenCL.OpenClAccelerator).Assembly, checkedBackend.Backend.GetType().Assembly);
        Assert.Contains(log, l => l.StartsWith("accelerator: opencl on ", StringComparison.Ordinal));

        var rng = new Random(11);
        var messages = Enumerable.Range(0, 200).Select(i => Batches.Slice(rng, i)).ToArray();
        Assert.Equal(Batches.Digests(CpuAccelerator.Instance, messages, 4), Batches.Digests(loaded, messages, 4));
        var level = Batches.Level(rng, 301);
        Assert.Equal(Batches.NextLevel(CpuAccelerator.Instance, 4, level), Batches.NextLevel(loaded, 4, level));
        Assert.False(checkedBackend.Disabled, checkedBackend.Fault?.Detail);
        Assert.Equal(2, checkedBackend.Stats.BatchesOffloaded);
    }

    [Fact]
    public void A_missing_plugin_falls_back_to_the_reference()
    {
        var log = new List<string>();
        var missing = Path.Combine(Path.GetTempPath(), "chain-no-such-plugin-" + Environment.ProcessId);
        var loaded = AcceleratorLoader.Load(new AcceleratorSettings { Backend = "opencl", Path = missing }, log.Add);
        Assert.Same(CpuAccelerator.Instance, loaded);
        Assert.Contains(log, l => l.Contains("unavailable", StringComparison.Ordinal) && l.Contains(missing, StringComparison.Ordinal));
    }

    [Fact]
    public void A_device_that_is_not_there_falls_back_to_the_reference()
    {
        var log = new List<string>();
        var settings = new AcceleratorSettings
        {
            Backend = "opencl",
            Path = OpenClFixture.PluginFolder,
            Options = new Dictionary<string, string> { ["device"] = "no such device 1f2e" },
        };
        Assert.Same(CpuAccelerator.Instance, AcceleratorLoader.Load(settings, log.Add));
        Assert.Contains(log, l => l.Contains("no device matches", StringComparison.Ordinal));
    }
}
