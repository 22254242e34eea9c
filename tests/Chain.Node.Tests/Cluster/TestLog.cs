using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace Chain.Node.Tests.Cluster;

/// <summary>
/// The test's narrative: each line stamped with the seconds since the test began, written to xunit's output (shown
/// for a failed test) and kept, so a failure message can carry the steps that led to it.
/// </summary>
public sealed class TestLog(ITestOutputHelper? output)
{
    private ITestOutputHelper? _output = output;

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<string> _lines = [];

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Where lines go from now on (a shared cluster's log follows the test that uses it).</summary>
    public void Attach(ITestOutputHelper? output) => Volatile.Write(ref _output, output);

    public void Line(string text)
    {
        // Seconds into the test, and the UTC time of day (to line up with the nodes' logs).
        var line = $"[{_clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture),6}s " +
                   $"{DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)}] {text}";
        lock (_lines) _lines.Add(line);
        try
        {
            Volatile.Read(ref _output)?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test has already finished (a background task logged late): the line is still kept.
        }
    }

    public IReadOnlyList<string> Lines()
    {
        lock (_lines) return [.. _lines];
    }

    /// <summary>A writer whose complete lines go to this log (for the testnet commands' console output).</summary>
    public TextWriter Writer(string prefix) => new LineWriter(this, prefix);

    private sealed class LineWriter(TestLog log, string prefix) : TextWriter
    {
        private readonly StringBuilder _pending = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_pending)
            {
                if (value == '\n')
                {
                    var line = _pending.ToString().TrimEnd('\r');
                    _pending.Clear();
                    if (line.Trim().Length > 0) log.Line(prefix + line);
                }
                else
                {
                    _pending.Append(value);
                }
            }
        }

        public override void Write(string? value)
        {
            foreach (var c in value ?? "") Write(c);
        }
    }
}
