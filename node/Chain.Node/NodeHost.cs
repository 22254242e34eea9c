namespace Chain.Node;

/// <summary>Starts a node from its command line (placeholder while the host is built).</summary>
public static class NodeHost
{
    public static Task<int> RunAsync(string[] args)
    {
        _ = args;
        return Task.FromResult(0);
    }
}
