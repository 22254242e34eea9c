namespace Chain.Chaincode;

/// <summary>
/// The key-value contract ("kv"): <c>put(key, value)</c> and <c>delete(key)</c> under its own namespace, each emitting
/// an event naming the key. Any member but an auditor may write.
/// </summary>
public sealed class KeyValueContract : IContract
{
    public string Id => "kv";
    public int Version => 1;

    public void Invoke(ContractContext context, string function, IReadOnlyList<ReadOnlyMemory<byte>> args)
    {
        switch (function)
        {
            case "put":
                context.Require(args.Count == 2, "put takes (key, value)");
                context.Put(args[0].Span, args[1].Span);
                context.Emit("put", args[0].Span);
                break;
            case "delete":
                context.Require(args.Count == 1, "delete takes (key)");
                context.Require(context.Get(args[0].Span) is not null, "no such key");
                context.Delete(args[0].Span);
                context.Emit("delete", args[0].Span);
                break;
            default:
                throw new ContractException($"kv has no function '{function}' (put, delete)");
        }
    }
}
