using System.CommandLine;
using System.Text.Json;
using Chain.Api.Tls;
using Chain.Client.Custody;
using Chain.Client.Imaging;
using Chain.Ledger;
using Grpc.Core;

namespace Chain.Cli;

/// <summary>An error the user can act on: bad arguments, missing files, something not found. Exit code 2.</summary>
internal sealed class CliException(string message) : Exception(message);

/// <summary>What every command action gets: the parsed options, the output writers, the connection (opened on first use).</summary>
internal sealed class CliEnvironment(GlobalOptions options, TextWriter stdout, TextWriter stderr)
{
    public GlobalOptions Options => options;

    public TextWriter Stdout => stdout;

    public TextWriter Stderr => stderr;
}

/// <summary>Runs a command action: opens the connection, turns every failure into one line on stderr and exit code 2.</summary>
internal static class Cli
{
    public const int Ok = 0, CheckFailed = 1, Error = 2, Interrupted = 130;

    /// <summary>Sets <paramref name="command"/>'s action to <paramref name="action"/> run by <see cref="RunAsync"/>.</summary>
    public static void SetAction(Command command, CliEnvironment env, Func<CommandContext, Task<int>> action) =>
        command.SetAction((parse, cancellation) => RunAsync(env, parse, action, cancellation));

    public static async Task<int> RunAsync(CliEnvironment env, ParseResult parse, Func<CommandContext, Task<int>> action,
        CancellationToken cancellation)
    {
        var timeoutSeconds = parse.GetValue(env.Options.Timeout);
        if (timeoutSeconds is < 1 or > 3600)
        {
            await env.Stderr.WriteLineAsync("error: --timeout must be from 1 to 3600 seconds").ConfigureAwait(false);
            return Error;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var context = new CommandContext(env, parse, timeout, TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            return await action(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            await env.Stderr.WriteLineAsync("interrupted").ConfigureAwait(false);
            return Interrupted;
        }
        catch (Exception e)
        {
            await env.Stderr.WriteLineAsync($"error: {OneLine(Describe(e, context))}").ConfigureAwait(false);
            return Error;
        }
        finally
        {
            context.Dispose();
        }
    }

    /// <summary>The message for a failure, without stack traces or gRPC's debug details.</summary>
    private static string Describe(Exception e, CommandContext context)
    {
        var where = context.SourceDescription ?? "the node";
        return e switch
        {
            CliException or LedgerException or TlsConfigurationException or InvalidDataException or IOException
                or UnauthorizedAccessException or CustodyException or ImageCipherException => e.Message,
            ArgumentException a => a.ParamName is null ? a.Message : a.Message.Replace($" (Parameter '{a.ParamName}')", "", StringComparison.Ordinal),
            RpcException { StatusCode: StatusCode.Unavailable } r => $"{where} is unreachable: {r.Status.Detail}",
            RpcException { StatusCode: StatusCode.DeadlineExceeded } => $"{where} did not answer in time",
            RpcException { StatusCode: StatusCode.Cancelled } or OperationCanceledException =>
                $"{where} did not answer within {context.Timeout.TotalSeconds:0} s (--timeout)",
            RpcException r => $"{where} answered {r.StatusCode}: {r.Status.Detail}",
            JsonException j => $"malformed JSON: {j.Message}",
            FormatException f => $"malformed data: {f.Message}",
            _ => $"unexpected {e.GetType().Name}: {e.Message}",
        };
    }

    /// <summary>The first line of a message, with control characters replaced (messages may quote hostile input).</summary>
    public static string OneLine(string message)
    {
        var line = message.Split('\n')[0].TrimEnd();
        return new string([.. line.Select(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format ? '?' : c)]);
    }
}
