namespace Chain.Accel.Offload;

/// <summary>
/// The process's accelerator: what the ledger's hot paths (transaction ids, Merkle roots, signature checks) call.
/// The CPU reference until the host (the node, at start-up, from its config) installs another with
/// <see cref="Use"/>. Every backend gives bit-identical results, so which one is installed never changes a block,
/// a root or a verdict, only how fast and on what hardware they are computed.
/// </summary>
public static class Offloaded
{
    private static IAccelerator s_current = CpuAccelerator.Instance;

    public static IAccelerator Current => Volatile.Read(ref s_current);

    /// <summary>Installs <paramref name="accelerator"/> for the whole process; returns the one it replaces.</summary>
    public static IAccelerator Use(IAccelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        return Interlocked.Exchange(ref s_current, accelerator);
    }
}
