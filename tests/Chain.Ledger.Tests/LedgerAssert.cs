using Chain.Ledger.Model;

namespace Chain.Ledger.Tests;

/// <summary>Field-by-field equality of ledger objects, and typed-error assertions.</summary>
public static class LedgerAssert
{
    public static void Equal(Transaction expected, Transaction actual)
    {
        Assert.Equal(expected.ChainId, actual.ChainId);
        Assert.Equal(expected.Contract, actual.Contract);
        Assert.Equal(expected.Function, actual.Function);
        Assert.Equal(expected.Args.Count, actual.Args.Count);
        for (var i = 0; i < expected.Args.Count; i++)
            Assert.Equal(expected.Args[i].ToArray(), actual.Args[i].ToArray());
        Assert.Equal(expected.Sender, actual.Sender);
        Assert.Equal(expected.Nonce, actual.Nonce);
        Assert.Equal(expected.Signature, actual.Signature);
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.Body.ToArray(), actual.Body.ToArray());
        Assert.Equal(expected.Encoded.ToArray(), actual.Encoded.ToArray());
    }

    public static void Equal(BlockHeader expected, BlockHeader actual)
    {
        Assert.Equal(expected.Height, actual.Height);
        Assert.Equal(expected.PreviousHash, actual.PreviousHash);
        Assert.Equal(expected.TxRoot, actual.TxRoot);
        Assert.Equal(expected.ExecutedHeight, actual.ExecutedHeight);
        Assert.Equal(expected.StateRoot, actual.StateRoot);
        Assert.Equal(expected.Proposer, actual.Proposer);
        Assert.Equal(expected.View, actual.View);
        Assert.Equal(expected.Timestamp, actual.Timestamp);
        Assert.Equal(expected.TxCount, actual.TxCount);
        Assert.Equal(expected.Hash(), actual.Hash());
    }

    public static void Equal(Block expected, Block actual)
    {
        Equal(expected.Header, actual.Header);
        Assert.Equal(expected.Hash, actual.Hash);
        Assert.Equal(expected.Transactions.Count, actual.Transactions.Count);
        for (var i = 0; i < expected.Transactions.Count; i++) Equal(expected.Transactions[i], actual.Transactions[i]);
    }

    public static void Equal(CommitCertificate expected, CommitCertificate actual)
    {
        Assert.Equal(expected.Phase, actual.Phase);
        Assert.Equal(expected.Height, actual.Height);
        Assert.Equal(expected.View, actual.View);
        Assert.Equal(expected.BlockHash, actual.BlockHash);
        Assert.Equal(expected.Signatures, actual.Signatures);
    }

    public static void Equal(CommittedBlock expected, CommittedBlock actual)
    {
        Equal(expected.Block, actual.Block);
        Equal(expected.Certificate, actual.Certificate);
        Assert.Equal(expected.Height, actual.Height);
    }

    /// <summary>
    /// Asserts <paramref name="action"/> throws a <see cref="LedgerException"/> with error <paramref name="expected"/>.
    /// </summary>
    public static LedgerException Throws(LedgerError expected, Action action)
    {
        var e = Assert.ThrowsAny<LedgerException>(action);
        Assert.True(e.Error == expected, $"expected {expected}, got {e.Error}: {e.Message}");
        return e;
    }

    /// <summary>
    /// As <see cref="Throws(LedgerError, Action)"/>, and the message contains <paramref name="messagePart"/>
    /// (ignoring case).
    /// </summary>
    public static LedgerException Throws(LedgerError expected, string messagePart, Action action)
    {
        var e = Throws(expected, action);
        Assert.Contains(messagePart, e.Message, StringComparison.OrdinalIgnoreCase);
        return e;
    }
}
