using Chain.Ledger.Identity;
using Chain.Ledger.Model;

namespace Chain.Ledger.Validation;

/// <summary>The outcome of checking a transaction: accepted, or the reason it was refused.</summary>
public readonly record struct TxCheck(LedgerError? Error, string Message)
{
    public static TxCheck Accepted { get; } = new(null, "accepted");

    public bool IsAccepted => Error is null;

    public static TxCheck Reject(LedgerError error, string message) => new(error, message);

    /// <summary>Throws the typed <see cref="LedgerException"/> when rejected.</summary>
    public void ThrowIfRejected()
    {
        if (Error is { } e) throw new LedgerException(e, Message);
    }
}

/// <summary>
/// Stateless admission checks on a decoded transaction: right chain, a sender the genesis lists, a valid
/// signature, and a registered contract. (Size and encoding are checked when decoding; replay and
/// per-contract rules belong to the mempool and the contracts.)
/// </summary>
public sealed class TransactionValidator(Genesis genesis, IReadOnlySet<string> contracts)
{
    public TxCheck Check(Transaction tx)
    {
        if (tx.ChainId != genesis.ChainId)
            return TxCheck.Reject(LedgerError.WrongChain, $"transaction is for chain '{tx.ChainId}', this is '{genesis.ChainId}'");
        if (!genesis.TryGetMember(tx.Sender, out _))
            return TxCheck.Reject(LedgerError.UnknownSender, $"sender {tx.Sender.Raw.Short} is not in the genesis");
        if (!tx.VerifySignature())
            return TxCheck.Reject(LedgerError.BadSignature, $"signature of {tx.Id.Short} does not verify");
        if (!contracts.Contains(tx.Contract))
            return TxCheck.Reject(LedgerError.UnknownContract, $"contract '{tx.Contract}' is not registered");
        return TxCheck.Accepted;
    }

    /// <summary>Decodes then checks raw bytes from outside; never throws.</summary>
    public TxCheck Check(ReadOnlySpan<byte> bytes, LedgerLimits limits, out Transaction? tx)
    {
        tx = null;
        try
        {
            tx = Transaction.Decode(bytes, limits);
        }
        catch (LedgerException e)
        {
            return TxCheck.Reject(e.Error, e.Message);
        }
        return Check(tx);
    }
}
