using Chain.Client;

namespace Chain.Ai.OnChain;

/// <summary>Waiting for a node to hold a block: a write commits through one node; reading it through another first waits here.</summary>
public static class LedgerSync
{
    /// <summary>
    /// Polls <paramref name="client"/>'s node (every 50 ms) until its height is at least <paramref name="height"/>; throws
    /// <see cref="TimeoutException"/> after <paramref name="timeout"/>.
    /// </summary>
    public static async Task WaitForHeightAsync(ChainClient client, ulong height, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        ulong seen = 0;
        try
        {
            while ((seen = (await client.StatusAsync(limit.Token).ConfigureAwait(false)).Height) < height)
                await Task.Delay(50, limit.Token).ConfigureAwait(false);
        }
        catch (Exception e) when ((e is OperationCanceledException or Grpc.Core.RpcException) && limit.IsCancellationRequested
            && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the node did not reach height {height} within {timeout.TotalSeconds:0.#} s (last seen {seen})", e);
        }
    }
}
