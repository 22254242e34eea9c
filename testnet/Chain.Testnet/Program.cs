using System.CommandLine;
using Chain.Ledger.Identity;
using Chain.Testnet;

var root = new RootCommand("Chain testnet: keys, genesis, a local ledger demo, and local multi-node clusters with faults and load.");

var keyOut = new Option<FileInfo>("--out") { Description = "Key file to create (must not exist).", Required = true };
var keyName = new Option<string>("--name") { Description = "Name recorded in the key file.", DefaultValueFactory = _ => "key" };
var keygen = new Command("keygen", "Generate an Ed25519 key file readable only by its owner (mode 0600).") { keyOut, keyName };
keygen.SetAction(parse => Cli.Run(() =>
{
    var file = parse.GetRequiredValue(keyOut);
    var pub = KeyFile.Generate(file.FullName, parse.GetValue(keyName) ?? "key");
    Console.WriteLine($"wrote {file.FullName}");
    Console.WriteLine($"public key {pub}");
}));
root.Add(keygen);

var demoDir = new Option<DirectoryInfo>("--dir")
{
    Description = "Data directory for the demo (keys, genesis.json, RocksDB). Reused if it exists.",
    DefaultValueFactory = _ => new DirectoryInfo(".demo"),
};
var demoBlocks = new Option<int>("--blocks") { Description = "Blocks to add (1-10,000).", DefaultValueFactory = _ => 20 };
var demoTxs = new Option<int>("--txs") { Description = "Transactions per block (1-10,000).", DefaultValueFactory = _ => 100 };
var demo = new Command("demo", "Single-node ledger demo on RocksDB: sign, validate, execute, commit, reopen, audit.")
{
    demoDir, demoBlocks, demoTxs,
};
demo.SetAction(parse => Cli.Run(() =>
{
    var blocks = parse.GetValue(demoBlocks);
    var txs = parse.GetValue(demoTxs);
    if (blocks is < 1 or > 10_000) throw new ArgumentException("--blocks must be between 1 and 10,000");
    if (txs is < 1 or > 10_000) throw new ArgumentException("--txs must be between 1 and 10,000");
    var report = LedgerDemo.Run(parse.GetValue(demoDir)!.FullName, blocks, txs, Console.Out);
    return report.AuditProblems.Count == 0 ? 0 : 1;
}));
root.Add(demo);

ClusterCommands.AddTo(root);

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One clear line instead of the parser's error list plus the whole help text.
    Console.Error.WriteLine($"error: {string.Join("; ", parsed.Errors.Select(e => e.Message))} (see 'testnet --help')");
    return 2;
}
return await parsed.InvokeAsync();
