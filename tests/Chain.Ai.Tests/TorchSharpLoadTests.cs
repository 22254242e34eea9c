using Chain.Ai.Torch;
using TorchSharp;

namespace Chain.Ai.Tests;

/// <summary>
/// TorchSharp loads and computes in the test output, where the build patched libLibTorchSharp.so. On Debian 12 an
/// unpatched copy fails every test here with TorchSharp's "could not load native components" error.
/// </summary>
public class TorchSharpLoadTests
{
    [Fact]
    public void EnsureLoaded_reports_the_cpu_backend_and_versions()
    {
        var info = TorchRuntime.EnsureLoaded();
        Assert.Equal("0.107.0", info.TorchSharpVersion);
        Assert.StartsWith("2.", info.LibTorchVersion, StringComparison.Ordinal);
        Assert.Equal("cpu", info.Device);
        Assert.True(info.Threads >= 1);
        Assert.Same(info, TorchRuntime.EnsureLoaded(seed: 1));
    }

    [Fact]
    public void Ones_sum_to_six()
    {
        TorchRuntime.EnsureLoaded();
        using var ones = torch.ones(2, 3);
        using var sum = ones.sum();
        Assert.Equal(6f, sum.item<float>());
    }

    [Fact]
    public void Linear_layer_forward_and_backward()
    {
        TorchRuntime.EnsureLoaded();
        using var layer = torch.nn.Linear(3, 1);
        using var input = torch.ones(4, 3);
        using var output = layer.forward(input);
        Assert.Equal(new long[] { 4, 1 }, output.shape);
        using var loss = output.sum();
        loss.backward();
        // d(sum over 4 rows of w·x + b)/dw = sum of the inputs = 4 per weight; /db = 4.
        var weightGrad = layer.weight!.grad!;
        var biasGrad = layer.bias!.grad!;
        Assert.Equal(new[] { 4f, 4f, 4f }, weightGrad.data<float>().ToArray());
        Assert.Equal(new[] { 4f }, biasGrad.data<float>().ToArray());
    }

    [Fact]
    public void Manual_seed_makes_random_tensors_repeat()
    {
        TorchRuntime.EnsureLoaded();
        torch.manual_seed(42);
        using var first = torch.randn(5);
        torch.manual_seed(42);
        using var second = torch.randn(5);
        Assert.Equal(first.data<float>().ToArray(), second.data<float>().ToArray());
    }

    [Fact]
    public async Task Chain_ai_doctor_loads_torch_and_exits_zero()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await Cli.Program.RunAsync(["doctor"], stdout, stderr);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        var text = stdout.ToString();
        Assert.Contains("torchsharp:      0.107.0", text, StringComparison.Ordinal);
        Assert.Contains("GLIBCXX_3.4.32:  not required (patched by the build)", text, StringComparison.Ordinal);
        Assert.Contains("ones(2,3).sum(): 6 (ok)", text, StringComparison.Ordinal);
    }
}
