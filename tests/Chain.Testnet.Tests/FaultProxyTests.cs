using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Chain.Testnet.Cluster;

namespace Chain.Testnet.Tests;

/// <summary>The fault proxy between plain TCP echo servers standing in for nodes 0, 1 and 2 (ports chosen by the OS).</summary>
public sealed class FaultProxyTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "chain-proxy-" + Guid.NewGuid().ToString("N"));
    private readonly List<EchoServer> _nodes = [];
    private FaultProxy _proxy = null!;

    private string FaultsFile => Path.Combine(_dir, "run", "faults.json");

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        for (var i = 0; i < 3; i++) _nodes.Add(new EchoServer());
        // Links 0->1, 1->0, 0->2, 2->0 (in this order).
        var links = new[] { (0, 1), (1, 0), (0, 2), (2, 0) }
            .Select(l => new ProxyLink(l.Item1, l.Item2, 0, _nodes[l.Item2].EndPoint)).ToList();
        _proxy = new FaultProxy(links, FaultsFile, TimeSpan.FromMilliseconds(20));
        _proxy.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        foreach (var node in _nodes) node.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private int Port(int from, int to) => _proxy.Ports[(from, to) switch
    {
        (0, 1) => 0,
        (1, 0) => 1,
        (0, 2) => 2,
        (2, 0) => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(from)),
    }];

    private static async Task<NetworkStream> Connect(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)).WaitAsync(Bound);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Sends <paramref name="data"/> and reads the echo back (bounded).</summary>
    private static async Task<byte[]> RoundTrip(NetworkStream stream, byte[] data)
    {
        using var timeout = new CancellationTokenSource(Bound);
        var send = stream.WriteAsync(data, timeout.Token).AsTask();
        var received = new byte[data.Length];
        await stream.ReadExactlyAsync(received, timeout.Token);
        await send;
        return received;
    }

    /// <summary>True when the connection ends (EOF or reset) within the bound; false if it stays open.</summary>
    private static async Task<bool> IsCut(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(Bound);
        var buffer = new byte[16];
        try
        {
            // The write may succeed or fail; either way a cut connection then reads EOF or a reset.
            await stream.WriteAsync(new byte[] { 1 }, timeout.Token);
            while (true)
            {
                if (await stream.ReadAsync(buffer, timeout.Token) == 0) return true;
            }
        }
        catch (IOException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>True when a new connection is reset at once: the connect itself fails, or the connection ends.</summary>
    private static async Task<bool> IsRefused(int port)
    {
        NetworkStream stream;
        try
        {
            stream = await Connect(port);
        }
        catch (SocketException)
        {
            return true;
        }
        await using (stream) return await IsCut(stream);
    }

    private async Task SetFaults(FaultState faults)
    {
        faults.Write(FaultsFile);
        var clock = Stopwatch.StartNew();
        while (!_proxy.Faults.SameAs(faults))
        {
            Assert.True(clock.Elapsed < Bound, "the proxy did not pick up the faults file");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Forwards_bytes_both_ways_on_every_link_more_than_a_buffer_at_a_time()
    {
        var data = new byte[3 * FaultProxy.BufferSize + 123];
        Random.Shared.NextBytes(data);
        foreach (var (from, to) in new[] { (0, 1), (1, 0), (0, 2), (2, 0) })
        {
            await using var stream = await Connect(Port(from, to));
            Assert.Equal(data, await RoundTrip(stream, data));
        }
        Assert.Equal([2, 1, 1], _nodes.Select(n => n.Connections));
    }

    [Fact]
    public async Task Isolating_a_node_cuts_its_links_refuses_new_ones_and_heal_restores_them()
    {
        var ping = "ping"u8.ToArray();
        await using var toOne = await Connect(Port(0, 1));
        await using var fromOne = await Connect(Port(1, 0));
        await using var toTwo = await Connect(Port(0, 2));
        foreach (var stream in new[] { toOne, fromOne, toTwo }) Assert.Equal(ping, await RoundTrip(stream, ping));

        await SetFaults(new FaultState([1]));
        Assert.True(await IsCut(toOne), "the open link 0->1 was not cut");
        Assert.True(await IsCut(fromOne), "the open link 1->0 was not cut");
        Assert.True(await IsRefused(Port(0, 1)), "a new connection on 0->1 was not refused");
        Assert.True(await IsRefused(Port(1, 0)), "a new connection on 1->0 was not refused");
        Assert.Equal(ping, await RoundTrip(toTwo, ping));
        Assert.True(_proxy.Refused >= 1);

        await SetFaults(FaultState.None);
        await using var again = await Connect(Port(0, 1));
        Assert.Equal(ping, await RoundTrip(again, ping));
        await using var back = await Connect(Port(1, 0));
        Assert.Equal(ping, await RoundTrip(back, ping));
    }

    [Fact]
    public async Task A_missing_or_unreadable_faults_file_means_no_new_faults()
    {
        await SetFaults(new FaultState([2]));
        await File.WriteAllTextAsync(FaultsFile, "{ not json");
        _proxy.ApplyFaults();
        Assert.Equal([2], _proxy.Faults.Isolated);
        File.Delete(FaultsFile);
        _proxy.ApplyFaults();
        Assert.Empty(_proxy.Faults.Isolated);
        await using var stream = await Connect(Port(2, 0));
        Assert.Equal("x"u8.ToArray(), await RoundTrip(stream, "x"u8.ToArray()));
    }

    /// <summary>A TCP echo server on 127.0.0.1 at a port the OS chooses.</summary>
    private sealed class EchoServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private int _connections;

        public EchoServer()
        {
            _listener.Start();
            _ = Task.Run(AcceptLoop);
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public int Connections => Volatile.Read(ref _connections);

        private async Task AcceptLoop()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }
                Interlocked.Increment(ref _connections);
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        try
                        {
                            var stream = client.GetStream();
                            var buffer = new byte[8192];
                            int read;
                            while ((read = await stream.ReadAsync(buffer, _stop.Token)) > 0)
                                await stream.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                        }
                        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
                        {
                        }
                    }
                });
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _stop.Dispose();
        }
    }
}
