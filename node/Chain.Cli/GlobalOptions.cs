using System.CommandLine;

namespace Chain.Cli;

/// <summary>The connection and output options every command accepts (recursive options of the root command).</summary>
internal sealed class GlobalOptions
{
    public Option<string> Node { get; } = new("--node")
    {
        Description = "Read through this node's client API (HOST:PORT, mutual TLS); needs --identity, --ca-dir and --genesis, or --testnet.",
        Recursive = true,
    };

    public Option<string> Identity { get; } = new("--identity")
    {
        Description = "Directory holding the client's tls.crt and tls.key (e.g. a testnet's clients/auditor-1).",
        Recursive = true,
    };

    public Option<string> CaDir { get; } = new("--ca-dir")
    {
        Description = "Directory of organisation CA certificates: every <organisation>.crt there is trusted for that organisation.",
        Recursive = true,
    };

    public Option<string> Genesis { get; } = new("--genesis")
    {
        Description = "The consortium's genesis.json: what blocks and certificates are checked against.",
        Recursive = true,
    };

    public Option<string> Data { get; } = new("--data")
    {
        Description = "Read a node's data directory (or a copy of it) read-only instead of asking a node; needs --genesis.",
        Recursive = true,
    };

    public Option<string> Testnet { get; } = new("--testnet")
    {
        Description = "A local testnet folder: genesis DIR/genesis.json, CAs DIR/ca/*.crt, identity DIR/clients/auditor-1, "
            + "node = the first validator in the genesis unless --node is given (with --data: only the genesis is taken from it).",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Machine output: one JSON document on stdout.",
        Recursive = true,
    };

    public Option<int> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds to wait for the node before giving up (1-3600).",
        DefaultValueFactory = _ => 30,
        Recursive = true,
    };

    public void AddTo(Command root)
    {
        foreach (var option in new Option[] { Node, Identity, CaDir, Genesis, Data, Testnet, Json, Timeout }) root.Add(option);
    }
}
