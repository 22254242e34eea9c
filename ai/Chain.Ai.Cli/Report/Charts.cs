using ScottPlot;

namespace Chain.Ai.Cli.Report;

/// <summary>The report's PNG charts (ScottPlot): line charts (learning and ROC curves) and grouped bar charts.</summary>
internal static class Charts
{
    public const int Width = 720, Height = 440;

    /// <summary>One line per series; <paramref name="diagonal"/> draws the chance line of a ROC chart.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel,
        IEnumerable<(string Name, double[] X, double[] Y)> series, bool diagonal = false)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var k = 0;
        foreach (var (name, x, y) in series)
        {
            if (x.Length == 0) continue;
            var line = plot.Add.Scatter(x, y, palette.GetColor(k++));
            line.LegendText = name;
            line.MarkerSize = x.Length > 40 ? 0 : 4;
            line.LineWidth = 2;
        }
        if (diagonal)
        {
            var chance = plot.Add.Line(0, 0, 1, 1);
            chance.LinePattern = LinePattern.Dashed;
            chance.Color = Colors.Gray;
            chance.LegendText = "chance";
            plot.Axes.SetLimits(0, 1, 0, 1.02);
        }
        Finish(plot, path, title, xLabel, yLabel);
    }

    /// <summary>Bars grouped by category, one colour per group (e.g. per family: detector, responder, baseline).</summary>
    public static void Bars(string path, string title, string yLabel, IReadOnlyList<string> categories,
        IEnumerable<(string Name, double[] Values)> groups, double? yMax = null)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var list = groups.ToList();
        var width = 0.8 / Math.Max(1, list.Count);
        for (var g = 0; g < list.Count; g++)
        {
            var color = palette.GetColor(g);
            var bars = list[g].Values.Select((v, c) => new Bar
            {
                Position = c + (g - (list.Count - 1) / 2.0) * width,
                Value = double.IsFinite(v) ? v : 0,
                FillColor = color,
                Size = width * 0.95,
            }).ToList();
            plot.Add.Bars(bars);
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = list[g].Name, FillColor = color });
        }
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, categories.Count).Select(c => (double)c)], [.. categories]);
        plot.Axes.Margins(bottom: 0);
        if (yMax is { } max) plot.Axes.SetLimitsY(0, max);
        Finish(plot, path, title, "", yLabel);
    }

    private static void Finish(Plot plot, string path, string title, string xLabel, string yLabel)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.LowerRight);
        var temp = path + ".tmp.png";
        plot.SavePng(temp, Width, Height);
        File.Move(temp, path, overwrite: true);
    }
}
