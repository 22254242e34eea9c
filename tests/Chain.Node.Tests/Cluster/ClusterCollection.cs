namespace Chain.Node.Tests.Cluster;

/// <summary>
/// The cluster tests run real node processes (4 per cluster) on a small machine: one at a time, never beside each
/// other (each would starve the others of CPU and time out).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "Cluster";
    public const string Category = "Cluster";
}
