using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Chain.Accel.Offload;
using Chain.Chaincode.Contracts;
using Chain.Client.Custody;
using Chain.Client.Imaging;
using Spectre.Console;

namespace Chain.Cli.Commands;

/// <summary>
/// <c>image encrypt|decrypt|info|keygen</c>: medical images (DICOM or any file) encrypted in chunks with AES-256-GCM in the
/// Chain image format (node/Chain.Client/Imaging/IMAGE-FORMAT.md), under a key file or a key released through share
/// custody. Decryption authenticates everything before the output appears; any failure leaves no output.
/// </summary>
internal static class ImageCommand
{
    /// <summary>Files at least this large get a progress bar (on a terminal).</summary>
    private const long ProgressThreshold = 64L * 1024 * 1024;

    public static void AddTo(RootCommand root, CliEnvironment env)
    {
        root.Add(new Command("image", "Medical-image encryption: chunked AES-256-GCM under a key file or a key released through share custody.")
        {
            Encrypt(env), Decrypt(env), Info(env), Keygen(env),
        });
    }

    /// <summary>The options naming the key: a key file, or a custody release read through the usual connection options.</summary>
    private sealed class KeyOptions
    {
        public Option<string> KeyFile { get; } = new("--key-file") { Description = "An image key file (chain image keygen)." };

        public Option<string> Custody { get; } = new("--custody")
        {
            Description = "The custody record (secret id) whose released secret is the key; read through --node/--testnet or --data.",
        };

        public Option<string> Request { get; } = new("--request") { Description = "The release request of that custody record approved for you." };

        public Option<string> CustodyKey { get; } = new("--custody-key")
        {
            Description = "Your custody key pair file (the X25519 key the release request names).",
        };

        public Option<string> Accelerator { get; } = new("--accelerator")
        {
            Description = "What runs AES-GCM: cpu (one core), cpu-parallel (every core, the default) or a plugin's name (e.g. opencl).",
            DefaultValueFactory = _ => ParallelCpuAccelerator.BackendName,
        };

        public Option<bool> Force { get; } = new("--force") { Description = "Replace the output file if it exists." };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { KeyFile, Custody, Request, CustodyKey, Accelerator, Force }) command.Add(option);
        }
    }

    private static Command Encrypt(CliEnvironment env)
    {
        var input = new Argument<string>("input") { Description = "The file to encrypt (a DICOM file or any file)." };
        var output = new Argument<string>("output") { Description = "The encrypted file to write." };
        var chunkSize = new Option<string>("--chunk-size")
        {
            Description = "Plaintext bytes per chunk: 4KiB to 16MiB (suffixes K, KiB, M, MiB; default 1MiB).",
            DefaultValueFactory = _ => "1MiB",
        };
        var storeName = new Option<bool>("--store-name")
        {
            Description = "Record the input's file name in the header (readable without the key: it may identify a patient).",
        };
        var keys = new KeyOptions();
        var command = new Command("encrypt", "Encrypts a file under a key file or a custody-released key.") { input, output, chunkSize, storeName };
        keys.AddTo(command);
        Cli.SetAction(command, env, async context =>
        {
            var (source, target) = Files(context, input, output, keys);
            var size = ParseSize(context.Value(chunkSize) ?? "1MiB");
            var length = new FileInfo(source).Length;
            using var key = await ResolveKeyAsync(context, keys, null).ConfigureAwait(false);
            var options = new ImageEncryptOptions { ChunkSize = size, FileName = context.Value(storeName) ? Path.GetFileName(source) : null };
            var force = context.Value(keys.Force);
            var (header, elapsed, backend) = await RunAsync(context, keys, "encrypting", length,
                (cipher, progress) => cipher.EncryptFile(source, target, key, options, force, progress, context.Cancellation)).ConfigureAwait(false);
            Report(context, "encrypted", source, target, header, elapsed, backend);
            return Cli.Ok;
        });
        return command;
    }

    private static Command Decrypt(CliEnvironment env)
    {
        var input = new Argument<string>("input") { Description = "The encrypted file." };
        var output = new Argument<string>("output") { Description = "Where to write the plaintext (it appears only once every chunk has authenticated)." };
        var keys = new KeyOptions();
        var command = new Command("decrypt",
            "Decrypts a file, authenticating every chunk before the output appears; with custody, --custody and --request default to the header's.")
        {
            input, output,
        };
        keys.AddTo(command);
        Cli.SetAction(command, env, async context =>
        {
            var (source, target) = Files(context, input, output, keys);
            var header = ImageHeader.ReadFile(source);
            using var key = await ResolveKeyAsync(context, keys, header).ConfigureAwait(false);
            var force = context.Value(keys.Force);
            var (done, elapsed, backend) = await RunAsync(context, keys, "decrypting", header.Length,
                (cipher, progress) => cipher.DecryptFile(source, target, key, force, progress, context.Cancellation)).ConfigureAwait(false);
            Report(context, "decrypted", source, target, done, elapsed, backend);
            return Cli.Ok;
        });
        return command;
    }

    private static Command Info(CliEnvironment env)
    {
        var file = new Argument<string>("file") { Description = "An encrypted image file." };
        var command = new Command("info", "An encrypted file's header (no key needed): sizes, chunking, file id, key source, and whether its size fits.")
        {
            file,
        };
        Cli.SetAction(command, env, context =>
        {
            var path = context.Value(file) ?? "";
            if (!File.Exists(path)) throw new CliException($"file {Args.Show(path)} does not exist");
            var header = ImageHeader.ReadFile(path);
            var actual = new FileInfo(path).Length;
            var sizeText = actual == header.FileLength ? "matches the header"
                : actual < header.FileLength ? $"TRUNCATED: {actual:N0} bytes, {header.FileLength:N0} expected"
                : $"{actual - header.FileLength:N0} unexpected byte(s) after the last chunk";
            var s = header.KeySource;
            if (context.Output.Json)
            {
                context.Output.WriteJson(new
                {
                    file = path,
                    version = header.Version,
                    chunkSize = header.ChunkSize,
                    length = header.Length,
                    chunkCount = header.ChunkCount,
                    fileId = header.FileIdHex,
                    keySource = KeySourceJson(s),
                    keyFingerprint = header.KeyFingerprint,
                    fileName = header.FileName,
                    headerBytes = header.Bytes.Length,
                    expectedBytes = header.FileLength,
                    actualBytes = actual,
                    sizeMatches = actual == header.FileLength,
                });
                return Task.FromResult(Cli.Ok);
            }
            context.Output.Fields(("file", path), ("format", $"Chain image, version {header.Version}"),
                ("plaintext", $"{header.Length:N0} bytes"), ("chunks", $"{header.ChunkCount:N0} of {header.ChunkSize:N0} bytes"),
                ("file id", header.FileIdHex), ("key", KeyText(s, header.KeyFingerprint)), ("file name", header.FileName ?? "(not stored)"),
                ("size", $"{actual:N0} bytes: {sizeText}"));
            context.Output.Line("(the header is authenticated only with the key: 'chain image decrypt' checks it)");
            return Task.FromResult(Cli.Ok);
        });
        return command;
    }

    private static Command Keygen(CliEnvironment env)
    {
        var output = new Option<string>("--out") { Description = "The key file to create (mode 0600; an existing file is never replaced).", Required = true };
        var command = new Command("keygen", "Creates an image key file: 32 random bytes, readable by you only.") { output };
        Cli.SetAction(command, env, context =>
        {
            var path = context.Value(output) ?? "";
            if (path.Length == 0) throw new CliException("--out FILE is required");
            if (File.Exists(path) || Directory.Exists(path)) throw new CliException($"{Args.Show(path)} already exists: a key file is never overwritten");
            using var key = ImageKeyFile.Generate(path);
            if (context.Output.Json) context.Output.WriteJson(new { file = path, fingerprint = key.Fingerprint });
            else context.Output.Line($"wrote image key {path} (fingerprint {key.Fingerprint}); keep it secret: it decrypts every image encrypted under it");
            return Task.FromResult(Cli.Ok);
        });
        return command;
    }

    /// <summary>The input (must exist) and output (must not, unless --force) paths.</summary>
    private static (string Input, string Output) Files(CommandContext context, Argument<string> input, Argument<string> output, KeyOptions keys)
    {
        var source = context.Value(input) ?? "";
        var target = context.Value(output) ?? "";
        if (!File.Exists(source)) throw new CliException($"input file {Args.Show(source)} does not exist");
        if (target.Length == 0 || Directory.Exists(target)) throw new CliException($"output '{Args.Show(target)}' is not a file path");
        if (Path.GetFullPath(source) == Path.GetFullPath(target)) throw new CliException("the output must not be the input");
        if (File.Exists(target) && !context.Value(keys.Force)) throw new CliException($"{Args.Show(target)} already exists (--force replaces it)");
        var folder = Path.GetDirectoryName(Path.GetFullPath(target))!;
        if (!Directory.Exists(folder)) throw new CliException($"the output folder {Args.Show(folder)} does not exist");
        return (source, target);
    }

    /// <summary>
    /// The key: --key-file, or a custody release (--custody, --request, --custody-key, read through the connection options).
    /// On decryption, <paramref name="header"/> supplies defaults and the hint of which key is needed.
    /// </summary>
    private static async Task<ImageKey> ResolveKeyAsync(CommandContext context, KeyOptions o, ImageHeader? header)
    {
        var keyFile = context.Value(o.KeyFile);
        var custodyKey = context.Value(o.CustodyKey);
        var custodyGiven = context.Value(o.Custody);
        var requestGiven = context.Value(o.Request);
        if (keyFile is not null && (custodyKey ?? custodyGiven ?? requestGiven) is not null)
            throw new CliException("--key-file excludes --custody, --request and --custody-key: give one key");
        if (keyFile is not null)
        {
            if (!File.Exists(keyFile)) throw new CliException($"key file {Args.Show(keyFile)} does not exist");
            return ImageKeyFile.Load(keyFile);
        }
        var fromHeader = header?.KeySource.Kind == ImageKeyKind.Custody ? header.KeySource : null;
        if (custodyKey is null)
        {
            throw new CliException(header is null
                ? "say which key: --key-file FILE, or --custody ID --request REQ --custody-key FILE with --node/--testnet or --data"
                : fromHeader is null
                    ? $"this file was encrypted under a key file (fingerprint {header.KeyFingerprint}): give --key-file FILE"
                    : $"this file's key is released from custody {fromHeader.CustodyId}: give --custody-key FILE (and --request REQ if yours is not " +
                      $"{fromHeader.RequestId}) with --node/--testnet or --data");
        }
        var custody = Name(custodyGiven ?? fromHeader?.CustodyId ?? throw new CliException("--custody ID is required with --custody-key"), "--custody");
        var request = Name(requestGiven ?? fromHeader?.RequestId ?? throw new CliException("--request REQ is required with --custody-key"), "--request");
        if (!File.Exists(custodyKey)) throw new CliException($"custody key file {Args.Show(custodyKey)} does not exist");
        using var pair = CustodyKeyPair.Load(custodyKey);
        var c = await context.ConnectAsync().ConfigureAwait(false);
        context.KeepAlive();
        var key = await CustodyImageKey.ReleaseAsync(c.Source.State, c.Genesis.ChainId, custody, request, pair, context.Cancellation).ConfigureAwait(false);
        // The node is not needed any more: the work that follows may take longer than --timeout.
        context.EndTimeout();
        return key;
    }

    private static string Name(string value, string what) =>
        ContractNames.IsName(value) ? value : throw new CliException($"{what} '{Args.Show(value)}' is not a valid name: names are {ContractNames.Rule}");

    /// <summary>Runs the work on a worker thread, with a progress bar on a terminal for large files; returns its header and duration.</summary>
    private static async Task<(ImageHeader Header, TimeSpan Elapsed, string Backend)> RunAsync(CommandContext context, KeyOptions o, string verb, long length,
        Func<ImageCipher, IProgress<long>?, ImageHeader> work)
    {
        using var accelerator = OpenAccelerator(context.Value(o.Accelerator) ?? ParallelCpuAccelerator.BackendName, context.Env.Stderr);
        var backend = $"{accelerator.Name}, {accelerator.Capabilities.Device}";
        var cipher = new ImageCipher(accelerator);
        var stderr = context.Env.Stderr;
        var watch = Stopwatch.StartNew();
        ImageHeader header;
        if (!context.Output.Json && length >= ProgressThreshold && ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
            header = await console.Progress().AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"{verb} {length / (1024.0 * 1024):N0} MiB", maxValue: Math.Max(1, length));
                    return await Task.Run(() => work(cipher, new Reporter(done => task.Value = done)), context.Cancellation).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }
        else
        {
            header = await Task.Run(() => work(cipher, null), context.Cancellation).ConfigureAwait(false);
        }
        return (header, watch.Elapsed, backend);
    }

    /// <summary>cpu and cpu-parallel are built here (the CPU needs no cross-check against itself); a plugin goes through the loader.</summary>
    private static IAccelerator OpenAccelerator(string name, TextWriter stderr) => name switch
    {
        CpuAccelerator.BackendName => CpuAccelerator.Instance,
        ParallelCpuAccelerator.BackendName => new ParallelCpuAccelerator(),
        _ => AcceleratorLoader.Load(new AcceleratorSettings { Backend = name }, line => stderr.WriteLine($"note: {Cli.OneLine(line)}")),
    };

    private static void Report(CommandContext context, string verb, string input, string output, ImageHeader header, TimeSpan elapsed, string backend)
    {
        var seconds = Math.Max(elapsed.TotalSeconds, 1e-6);
        var mbps = header.Length * 8 / 1e6 / seconds;
        if (context.Output.Json)
        {
            context.Output.WriteJson(new
            {
                input,
                output,
                length = header.Length,
                chunkSize = header.ChunkSize,
                chunkCount = header.ChunkCount,
                fileId = header.FileIdHex,
                keySource = KeySourceJson(header.KeySource),
                keyFingerprint = header.KeyFingerprint,
                fileName = header.FileName,
                seconds = Math.Round(elapsed.TotalSeconds, 3),
                megabitsPerSecond = Math.Round(mbps),
                accelerator = backend,
            });
            return;
        }
        context.Output.Fields((verb, $"{input} -> {output}"),
            ("plaintext", $"{header.Length:N0} bytes in {header.ChunkCount:N0} chunk(s) of {header.ChunkSize:N0} bytes"),
            ("key", KeyText(header.KeySource, header.KeyFingerprint)), ("file id", header.FileIdHex),
            ("time", string.Create(CultureInfo.InvariantCulture, $"{elapsed.TotalSeconds:0.000} s ({mbps:N0} Mbit/s; {backend})")));
    }

    private static object KeySourceJson(ImageKeySource s) => s.Kind == ImageKeyKind.KeyFile
        ? new { kind = "key-file" }
        : new { kind = "custody", chainId = s.ChainId, custodyId = s.CustodyId, epoch = s.Epoch, requestId = s.RequestId };

    private static string KeyText(ImageKeySource s, string fingerprint) => s.Kind == ImageKeyKind.KeyFile
        ? $"key file, fingerprint {fingerprint}"
        : $"released from custody {s.CustodyId} on chain {s.ChainId} (epoch {s.Epoch}, request {s.RequestId}), fingerprint {fingerprint}";

    /// <summary>A size such as 65536, 64K, 64KiB, 1M or 1MiB (binary multiples), within the format's chunk range.</summary>
    internal static int ParseSize(string text)
    {
        var t = text.Trim();
        var (digits, multiplier) = t.EndsWith("KiB", StringComparison.OrdinalIgnoreCase) ? (t[..^3], 1024L)
            : t.EndsWith("MiB", StringComparison.OrdinalIgnoreCase) ? (t[..^3], 1024L * 1024)
            : t.EndsWith('K') || t.EndsWith('k') ? (t[..^1], 1024L)
            : t.EndsWith('M') || t.EndsWith('m') ? (t[..^1], 1024L * 1024)
            : (t, 1L);
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > int.MaxValue
            || n * multiplier is < ImageHeader.MinChunkSize or > ImageHeader.MaxChunkSize)
        {
            throw new CliException($"--chunk-size '{Args.Show(text)}' is not a size from 4KiB to 16MiB (e.g. 65536, 64KiB, 1MiB)");
        }
        return (int)(n * multiplier);
    }

    /// <summary>Reports synchronously on the worker thread.</summary>
    private sealed class Reporter(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
