using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Chain.Ai.Tests.OnChain;

/// <summary>
/// Times calls on the decision path and tells blocking from a busy machine: around each call it reads the calling
/// thread's context-switch counts (getrusage RUSAGE_THREAD) and the GC count. A call that blocks (waits on a lock, I/O,
/// an event) makes a voluntary context switch; a call the scheduler merely preempted on a loaded machine makes an
/// involuntary one; a call a garbage collection stopped is the runtime's, not the logger's. So: no call may switch
/// voluntarily outside a GC, and the calls that were neither preempted nor collected must each stay under the bound.
/// </summary>
internal sealed class DecisionPathTimer
{
    private readonly List<double> _all = [];
    private readonly List<double> _clean = [];
    private readonly List<string> _blocked = [];

    public int Calls { get; private set; }
    public int Blocked { get; private set; }
    public int Preempted { get; private set; }
    public int Collected { get; private set; }

    public double MaxMs => _all.Count == 0 ? 0 : _all.Max();
    public double CleanMaxMs => _clean.Count == 0 ? 0 : _clean.Max();

    public double Percentile(double p)
    {
        if (_all.Count == 0) return 0;
        var sorted = _all.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100 * sorted.Count) - 1)];
    }

    public T Time<T>(Func<T> call)
    {
        var gc = GC.CollectionCount(0);
        Read(out var before);
        var start = Stopwatch.GetTimestamp();
        var result = call();
        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Read(out var after);
        Calls++;
        _all.Add(ms);
        if (GC.CollectionCount(0) != gc) Collected++;
        else if (after.NvCsw != before.NvCsw)
        {
            Blocked++;
            _blocked.Add(string.Create(CultureInfo.InvariantCulture, $"#{Calls - 1} {ms:0.000} ms"));
        }
        else if (after.NivCsw != before.NivCsw) Preempted++;
        else _clean.Add(ms);
        return result;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Calls} calls: max {MaxMs:0.000} ms, p99 {Percentile(99):0.0000} ms, p50 {Percentile(50):0.0000} ms; " +
        $"max of the {_clean.Count} undisturbed calls {CleanMaxMs:0.000} ms; blocked {Blocked}{(_blocked.Count == 0 ? "" : " (" + string.Join(", ", _blocked.Take(10)) + ")")}, " +
        $"preempted {Preempted}, during a GC {Collected}");

    private static void Read(out RUsage usage)
    {
        if (GetRUsage(RUsageThread, out usage) != 0) throw new InvalidOperationException("getrusage(RUSAGE_THREAD) failed");
    }

    private const int RUsageThread = 1;

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UtimeSec, UtimeUsec, StimeSec, StimeUsec, MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock,
            MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
    }

    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetRUsage(int who, out RUsage usage);
}
