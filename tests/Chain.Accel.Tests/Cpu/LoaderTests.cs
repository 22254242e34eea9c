using Chain.Accel.Offload;

namespace Chain.Accel.Tests.Cpu;

public sealed class LoaderTests
{
    [Fact]
    public void Cpu_is_the_bare_reference()
    {
        Assert.Same(CpuAccelerator.Instance, AcceleratorLoader.Load(new AcceleratorSettings { Backend = "cpu" }));
    }

    [Fact]
    public void Cpu_parallel_is_the_default_and_comes_cross_checked()
    {
        var loaded = AcceleratorLoader.Load(new AcceleratorSettings());
        var watched = Assert.IsType<CheckedAccelerator>(loaded);
        Assert.IsType<ParallelCpuAccelerator>(watched.Backend);
        Assert.Equal("cpu-parallel", loaded.Name);
    }

    [Theory]
    [InlineData("fpga-x1000")]
    [InlineData("../../etc")]
    [InlineData("")]
    [InlineData("a b")]
    public void A_missing_or_bad_backend_falls_back_to_the_reference_and_says_why(string name)
    {
        var log = new List<string>();
        var loaded = AcceleratorLoader.Load(new AcceleratorSettings { Backend = name }, log.Add);
        Assert.Same(CpuAccelerator.Instance, loaded);
        var line = Assert.Single(log);
        Assert.Contains("using the CPU reference instead", line, StringComparison.Ordinal);
    }

    [Fact]
    public void An_assembly_that_is_not_a_plugin_falls_back()
    {
        var log = new List<string>();
        // This test assembly loads, but exports no accelerator factory.
        var loaded = AcceleratorLoader.Load(new AcceleratorSettings { Backend = "opencl", Path = typeof(LoaderTests).Assembly.Location }, log.Add);
        Assert.Same(CpuAccelerator.Instance, loaded);
        Assert.Contains("exports no IAcceleratorFactory", Assert.Single(log), StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_an_assembly_falls_back()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "not a dll");
            var log = new List<string>();
            Assert.Same(CpuAccelerator.Instance, AcceleratorLoader.Load(new AcceleratorSettings { Backend = "opencl", Path = path }, log.Add));
            Assert.Contains("does not load", Assert.Single(log), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
