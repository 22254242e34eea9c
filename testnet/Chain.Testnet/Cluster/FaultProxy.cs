using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Chain.Testnet.Cluster;

/// <summary>A directed link through the proxy: connections accepted on ListenPort (0: any free port) go to Target.</summary>
internal sealed record ProxyLink(int From, int To, int ListenPort, IPEndPoint Target);

/// <summary>
/// A fault-injecting TCP proxy between the testnet's nodes: one listening port per directed link, plain byte
/// forwarding (TLS passes through untouched) with async sockets and a fixed buffer per direction. Every
/// <c>pollInterval</c> it re-reads the faults file; connections of a link that touches an isolated node are reset
/// at once, and new ones are accepted and reset immediately, until the faults are healed.
/// </summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    public const int BufferSize = 64 * 1024;
    public const int MaxConnections = 4096;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(3);

    private readonly IReadOnlyList<ProxyLink> _links;
    private readonly string _faultsPath;
    private readonly TimeSpan _pollInterval;
    private readonly TextWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, Connection> _connections = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _loops = [];
    private long _nextConnection;
    private long _accepted;
    private long _refused;
    private volatile FaultState _faults = FaultState.None;
    private bool _started;

    public FaultProxy(IReadOnlyList<ProxyLink> links, string faultsPath, TimeSpan? pollInterval = null, TextWriter? log = null)
    {
        _links = links;
        _faultsPath = faultsPath;
        _pollInterval = pollInterval ?? TimeSpan.FromMilliseconds(100);
        _log = log ?? TextWriter.Null;
    }

    /// <summary>The port each link listens on (in the order of the links), once started.</summary>
    public IReadOnlyList<int> Ports => _listeners.Select(l => ((IPEndPoint)l.LocalEndPoint!).Port).ToList();

    public FaultState Faults => _faults;

    public int OpenConnections => _connections.Count;

    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Connections reset at once because their link was cut (or the proxy was full).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Reads the faults and binds every listening port (throws if one is taken), then serves in the background.</summary>
    public void Start()
    {
        if (_started) throw new InvalidOperationException("the proxy is already started");
        _started = true;
        _faults = FaultState.TryRead(_faultsPath) ?? FaultState.None;
        foreach (var link in _links)
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                listener.Bind(new IPEndPoint(IPAddress.Loopback, link.ListenPort));
                listener.Listen(512);
            }
            catch (SocketException e)
            {
                listener.Dispose();
                foreach (var l in _listeners) l.Dispose();
                _listeners.Clear();
                throw new TestnetException($"the proxy cannot listen on 127.0.0.1:{link.ListenPort} (link {link.From}->{link.To}): {e.Message}", e);
            }
            _listeners.Add(listener);
        }
        for (var i = 0; i < _links.Count; i++)
        {
            var (listener, link) = (_listeners[i], _links[i]);
            _loops.Add(Task.Run(() => AcceptLoopAsync(listener, link)));
        }
        _loops.Add(Task.Run(PollLoopAsync));
        _log.WriteLine($"proxy: {_links.Count} links; {_faults}");
    }

    /// <summary>Starts, then serves until <paramref name="cancellation"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellation)
    {
        Start();
        try
        {
            await Task.Delay(Timeout.Infinite, cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Re-reads the faults file now (the poll loop does this every interval) and cuts what it isolates.</summary>
    public void ApplyFaults()
    {
        var read = FaultState.TryRead(_faultsPath);
        if (read is null || read.SameAs(_faults)) return;
        _faults = read;
        var cut = 0;
        foreach (var connection in _connections.Values)
        {
            if (!read.IsCut(connection.Link.From, connection.Link.To)) continue;
            connection.Reset();
            cut++;
        }
        _log.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} proxy: {read}; cut {cut} open connection(s)");
    }

    private async Task PollLoopAsync()
    {
        using var timer = new PeriodicTimer(_pollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false)) ApplyFaults();
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task AcceptLoopAsync(Socket listener, ProxyLink link)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.WriteLine($"proxy: accept on link {link.From}->{link.To} failed: {e.SocketErrorCode}");
                await Task.Delay(50).ConfigureAwait(false);
                continue;
            }
            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => ServeAsync(accepted, link));
        }
    }

    private async Task ServeAsync(Socket client, ProxyLink link)
    {
        if (_faults.IsCut(link.From, link.To) || _connections.Count >= MaxConnections)
        {
            Interlocked.Increment(ref _refused);
            Reset(client);
            return;
        }
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        connectTimeout.CancelAfter(ConnectTimeout);
        try
        {
            await upstream.ConnectAsync(link.Target, connectTimeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Reset(client);
            Reset(upstream);
            return;
        }
        var id = Interlocked.Increment(ref _nextConnection);
        using var connection = new Connection(link, client, upstream, _stop.Token);
        _connections[id] = connection;
        try
        {
            // A fault applied between the check above and the registration must still cut this connection.
            if (_faults.IsCut(link.From, link.To))
            {
                Interlocked.Increment(ref _refused);
                connection.Reset();
                return;
            }
            var forward = PumpAsync(client, upstream, connection);
            var backward = PumpAsync(upstream, client, connection);
            await Task.WhenAll(forward, backward).ConfigureAwait(false);
        }
        finally
        {
            _connections.TryRemove(id, out _);
        }
    }

    /// <summary>Copies one direction until end of stream (then half-closes the other side) or an error (then resets both).</summary>
    private static async Task PumpAsync(Socket from, Socket to, Connection connection)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer.AsMemory(0, BufferSize), SocketFlags.None, connection.Token)
                    .ConfigureAwait(false);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                for (var sent = 0; sent < read;)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, connection.Token)
                        .ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            connection.Reset();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Closes with an RST (linger 0), so the other side sees the cut at once.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var listener in _listeners) listener.Dispose();
        foreach (var connection in _connections.Values) connection.Reset();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        _stop.Dispose();
    }

    private sealed class Connection(ProxyLink link, Socket client, Socket upstream, CancellationToken stop) : IDisposable
    {
        private readonly CancellationTokenSource _cancel = CancellationTokenSource.CreateLinkedTokenSource(stop);
        private int _reset;

        public ProxyLink Link { get; } = link;

        public CancellationToken Token => _cancel.Token;

        public void Reset()
        {
            if (Interlocked.Exchange(ref _reset, 1) != 0) return;
            FaultProxy.Reset(client);
            FaultProxy.Reset(upstream);
            try
            {
                _cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            client.Dispose();
            upstream.Dispose();
            _cancel.Dispose();
        }
    }
}
