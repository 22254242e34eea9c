using System.Xml.Linq;

namespace Chain.Architecture.Tests;

/// <summary>
/// The dependency rules of ARCHITECTURE.md, checked against the project files: each production project
/// may reference only the projects listed for it, and every project must be listed (a new project
/// forces a decision here and in ARCHITECTURE.md).
/// </summary>
public class ProjectReferenceTests
{
    /// <summary>Production project -> the projects it may reference. Keep in step with ARCHITECTURE.md.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["Chain.Accel"] = [],
        ["Chain.Accel.OpenCL"] = ["Chain.Accel"],
        ["Chain.Ledger"] = ["Chain.Accel"],
        ["Chain.Consensus"] = ["Chain.Accel"],
        ["Chain.Chaincode"] = ["Chain.Accel", "Chain.Ledger"],
        ["Chain.Node"] = ["Chain.Accel", "Chain.Ledger", "Chain.Consensus", "Chain.Chaincode", "Chain.Api"],
        ["Chain.Api"] = [],
        ["Chain.Client"] = ["Chain.Accel", "Chain.Ledger", "Chain.Chaincode", "Chain.Api"],
        ["Chain.Cli"] = ["Chain.Accel", "Chain.Ledger", "Chain.Chaincode", "Chain.Api", "Chain.Client"],
        ["Chain.Testnet"] = ["Chain.Accel", "Chain.Ledger", "Chain.Api", "Chain.Chaincode", "Chain.Client", "Chain.Node"],
        ["Chain.Ai"] = ["Chain.Accel", "Chain.Api", "Chain.Client"],
        ["Chain.Ai.Cli"] = ["Chain.Ai", "Chain.Api"],
    };

    /// <summary>
    /// Production project -> projects it may build before itself without referencing their code
    /// (ReferenceOutputAssembly="false"): the node ships the OpenCL plugin beside it and loads it at run time.
    /// </summary>
    private static readonly Dictionary<string, string[]> BuildOrderOnly = new()
    {
        ["Chain.Node"] = ["Chain.Accel.OpenCL"],
    };

    private static readonly string[] ProductionFolders = ["node", "consensus", "chaincode", "ai", "accel", "testnet"];

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Chain.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Chain.sln not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> ProductionProjects()
    {
        var data = new TheoryData<string>();
        var root = RepoRoot();
        foreach (var folder in ProductionFolders)
        {
            var path = Path.Combine(root, folder);
            if (!Directory.Exists(path)) continue;
            foreach (var csproj in Directory.EnumerateFiles(path, "*.csproj", SearchOption.AllDirectories).Order())
                data.Add(Path.GetRelativePath(root, csproj));
        }
        return data;
    }

    /// <summary>The projects <paramref name="csproj"/> references: code references, or build-order-only ones.</summary>
    private static IEnumerable<string> References(string csproj, bool buildOrderOnly) =>
        XDocument.Load(csproj).Descendants("ProjectReference")
            .Where(e => buildOrderOnly == string.Equals(
                (string?)e.Attribute("ReferenceOutputAssembly"), "false", StringComparison.OrdinalIgnoreCase))
            .Select(e => Path.GetFileNameWithoutExtension(e.Attribute("Include")!.Value.Replace('\\', '/')));

    [Theory]
    [MemberData(nameof(ProductionProjects))]
    public void Production_project_references_only_what_the_architecture_allows(string relativePath)
    {
        var name = Path.GetFileNameWithoutExtension(relativePath);
        Assert.True(Allowed.TryGetValue(name, out var allowed),
            $"{name} is not in the architecture's dependency table; add it here and to ARCHITECTURE.md");
        var csproj = Path.Combine(RepoRoot(), relativePath);
        var forbidden = References(csproj, buildOrderOnly: false).Except(allowed!).ToArray();
        Assert.True(forbidden.Length == 0, $"{name} references {string.Join(", ", forbidden)}, which it may not");
        var buildOnly = References(csproj, buildOrderOnly: true).Except(BuildOrderOnly.GetValueOrDefault(name, [])).ToArray();
        Assert.True(buildOnly.Length == 0,
            $"{name} builds {string.Join(", ", buildOnly)} first (ReferenceOutputAssembly=false), which it may not");
    }

    [Fact]
    public void Every_project_on_disk_is_in_the_solution()
    {
        var root = RepoRoot();
        var sln = File.ReadAllText(Path.Combine(root, "Chain.sln")).Replace('\\', '/');
        var missing = Directory.EnumerateFiles(root, "*.csproj", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))
            .Where(p => !p.Split('/').Any(s => s is "bin" or "obj"))
            .Where(p => !sln.Contains(p, StringComparison.Ordinal))
            .ToArray();
        Assert.True(missing.Length == 0, "not in Chain.sln: " + string.Join(", ", missing));
    }

    [Fact]
    public void Ledger_exists_and_is_checked()
    {
        var projects = ((IEnumerable<object[]>)ProductionProjects()).Select(row => (string)row[0]).ToArray();
        Assert.Contains(projects, p => p.EndsWith("Chain.Ledger.csproj", StringComparison.Ordinal));
    }
}
