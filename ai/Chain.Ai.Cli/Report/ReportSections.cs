using Chain.Ai.Detection;

namespace Chain.Ai.Cli.Report;

/// <summary>The report's responder and privacy sections.</summary>
internal static class ReportSections
{
    public static void Add(EvaluationReport report, Detector detector, ChosenSplit chosen)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(detector);
        ArgumentNullException.ThrowIfNull(chosen);
    }
}
