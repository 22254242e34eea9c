using Chain.Api.Tls;
using Chain.Ledger;
using Chain.Testnet.Cluster;

namespace Chain.Testnet;

/// <summary>Turns expected failures into one clear line and a non-zero exit code (2; 130 when interrupted).</summary>
internal static class Cli
{
    public static int Run(Action action) => Run(() =>
    {
        action();
        return 0;
    });

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (Expected(e))
        {
            return Fail(e);
        }
    }

    public static async Task<int> RunAsync(Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("interrupted");
            return 130;
        }
        catch (Exception e) when (Expected(e))
        {
            return Fail(e);
        }
    }

    private static bool Expected(Exception e) => e is LedgerException or TestnetException or TlsConfigurationException
        or ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException
        or Chain.Client.TransactionFailedException or Chain.Client.Custody.CustodyException or Grpc.Core.RpcException;

    private static int Fail(Exception e)
    {
        Console.Error.WriteLine($"error: {e.Message.Split('\n')[0].TrimEnd()}");
        return 2;
    }
}
