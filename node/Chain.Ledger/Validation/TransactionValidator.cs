using Chain.Accel.Offload;
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
/// per-contract rules belong to the mempool and the contracts.) Signatures are checked on the process's
/// accelerator (<see cref="Offloaded.Current"/>), many at once by <see cref="CheckAll"/>; with a
/// <see cref="VerificationCache"/>, a transaction whose signature was already found valid is not checked again.
/// </summary>
public sealed class TransactionValidator(Genesis genesis, IReadOnlySet<string> contracts, VerificationCache? cache = null)
{
    public VerificationCache? Cache => cache;

    public TxCheck Check(Transaction tx)
    {
        var verdict = CheckFields(tx);
        if (!verdict.IsAccepted) return verdict;
        if (cache is not null && cache.Contains(tx)) return TxCheck.Accepted;
        var check = new SignatureCheck[] { new(tx.Sender, tx.SignedBytes(), tx.Signature) };
        var valid = new bool[1];
        Offloaded.Current.VerifyEd25519(check, valid);
        return Signed(tx, valid[0]);
    }

    /// <summary>
    /// Checks many transactions, their signatures as one batch (skipping those the cache holds). verdicts[i] is the
    /// verdict on transactions[i].
    /// </summary>
    public TxCheck[] CheckAll(IReadOnlyList<Transaction> transactions)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        var verdicts = new TxCheck[transactions.Count];
        var pending = new List<int>(transactions.Count);
        for (var i = 0; i < verdicts.Length; i++)
        {
            var tx = transactions[i];
            verdicts[i] = CheckFields(tx);
            if (verdicts[i].IsAccepted && (cache is null || !cache.Contains(tx))) pending.Add(i);
        }
        if (pending.Count == 0) return verdicts;
        var checks = new SignatureCheck[pending.Count];
        for (var k = 0; k < checks.Length; k++)
        {
            var tx = transactions[pending[k]];
            checks[k] = new SignatureCheck(tx.Sender, tx.SignedBytes(), tx.Signature);
        }
        var valid = new bool[checks.Length];
        Offloaded.Current.VerifyEd25519(checks, valid);
        for (var k = 0; k < checks.Length; k++) verdicts[pending[k]] = Signed(transactions[pending[k]], valid[k]);
        return verdicts;
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

    private TxCheck CheckFields(Transaction tx)
    {
        if (tx.ChainId != genesis.ChainId)
            return TxCheck.Reject(LedgerError.WrongChain, $"transaction is for chain '{tx.ChainId}', this is '{genesis.ChainId}'");
        if (!genesis.TryGetMember(tx.Sender, out _))
            return TxCheck.Reject(LedgerError.UnknownSender, $"sender {tx.Sender.Raw.Short} is not in the genesis");
        if (!contracts.Contains(tx.Contract))
            return TxCheck.Reject(LedgerError.UnknownContract, $"contract '{tx.Contract}' is not registered");
        return TxCheck.Accepted;
    }

    private TxCheck Signed(Transaction tx, bool valid)
    {
        if (!valid) return TxCheck.Reject(LedgerError.BadSignature, $"signature of {tx.Id.Short} does not verify");
        cache?.Add(tx);
        return TxCheck.Accepted;
    }
}
