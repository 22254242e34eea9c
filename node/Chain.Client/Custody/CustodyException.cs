namespace Chain.Client.Custody;

/// <summary>A share-custody operation cannot go on: a bad key file, an invalid share, too few approvals, a record that does not fit.</summary>
public class CustodyException : Exception
{
    public CustodyException(string message) : base(message) { }

    public CustodyException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A sealed box did not open: it was sealed to another key, for another context, or it was tampered with.</summary>
public sealed class ShareDecryptionException : CustodyException
{
    public ShareDecryptionException(string message) : base(message) { }
}
