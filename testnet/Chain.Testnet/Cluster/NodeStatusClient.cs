using Chain.Api.Tls;
using Chain.Api.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Chain.Testnet.Cluster;

/// <summary>One node's answer to GetStatus, or why there was none.</summary>
internal sealed record NodeProbe(int Id, NodeStatus? Status, string? Error)
{
    public bool Answered => Status is not null;
}

/// <summary>Asks nodes for their status over mutual TLS, as one client (by default hospital-a's application).</summary>
internal sealed class NodeStatusClient : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(2);

    private readonly Dictionary<int, GrpcChannel> _channels = new();

    public NodeStatusClient(TestnetLayout layout, Manifest manifest, string? clientName = null)
    {
        var client = clientName is null
            ? manifest.Clients.FirstOrDefault(c => c.IsLoadClient)
            : manifest.Clients.FirstOrDefault(c => c.Name == clientName);
        if (client is null) throw new TestnetException("the manifest lists no client to query the nodes with");
        var dir = layout.Absolute(client.Dir);
        Tls = MutualTls.Load(Path.Combine(dir, "tls.crt"), Path.Combine(dir, "tls.key"), manifest.TrustedCas(layout));
        foreach (var node in manifest.Nodes)
            _channels[node.Id] = Tls.CreateChannel($"127.0.0.1:{node.ListenPort}", connectTimeout: DefaultTimeout);
    }

    public MutualTls Tls { get; }

    public async Task<NodeProbe> ProbeAsync(int id, TimeSpan? timeout = null, CancellationToken cancellation = default)
    {
        if (!_channels.TryGetValue(id, out var channel)) return new NodeProbe(id, null, "not in the manifest");
        try
        {
            var status = await new Api.V1.Ledger.LedgerClient(channel).GetStatusAsync(new StatusRequest(),
                deadline: DateTime.UtcNow + (timeout ?? DefaultTimeout), cancellationToken: cancellation).ConfigureAwait(false);
            return new NodeProbe(id, status, null);
        }
        catch (RpcException e)
        {
            return new NodeProbe(id, null, e.StatusCode switch
            {
                StatusCode.DeadlineExceeded => "no answer in time",
                StatusCode.Unavailable => "no connection",
                _ => Short(e),
            });
        }
    }

    public Task<NodeProbe[]> ProbeAllAsync(TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        Task.WhenAll(_channels.Keys.Order().Select(id => ProbeAsync(id, timeout, cancellation)));

    private static string Short(RpcException e)
    {
        var line = $"{e.StatusCode}: {e.Status.Detail.Split('\n')[0]}";
        return line.Length > 60 ? line[..60] + "..." : line;
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values) channel.Dispose();
    }
}
