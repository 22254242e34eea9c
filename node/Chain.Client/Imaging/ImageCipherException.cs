namespace Chain.Client.Imaging;

/// <summary>Why an image file could not be encrypted, decrypted or read.</summary>
public enum ImageError
{
    /// <summary>Not a Chain image file, an unsupported version, a malformed field, or a header whose MAC does not verify.</summary>
    BadHeader,

    /// <summary>The key given is not the key the file was encrypted under (checked before any chunk is opened).</summary>
    WrongKey,

    /// <summary>A chunk does not authenticate: altered, reordered, duplicated or taken from another file.</summary>
    Tampered,

    /// <summary>The file ends before its last chunk.</summary>
    Truncated,

    /// <summary>Bytes follow the last chunk.</summary>
    TrailingData,

    /// <summary>The output exists and replacing it was not asked for.</summary>
    OutputExists,

    /// <summary>The input changed size while it was being encrypted.</summary>
    InputChanged,

    /// <summary>A key file that cannot be written, read or parsed, or is readable by others.</summary>
    BadKeyFile,
}

/// <summary>
/// An image could not be encrypted or decrypted. <see cref="Error"/> says why; the message is one line fit for a user
/// and never holds key material. When decryption throws, no plaintext was released (the file API has deleted its
/// temporary output).
/// </summary>
public sealed class ImageCipherException : Exception
{
    public ImageCipherException(ImageError error, string message) : base(message) => Error = error;

    public ImageCipherException(ImageError error, string message, Exception inner) : base(message, inner) => Error = error;

    public ImageError Error { get; }
}
