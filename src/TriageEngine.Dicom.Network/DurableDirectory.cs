using System.Runtime.InteropServices;

namespace TriageEngine.Dicom.Network;

/// <summary>
/// fsync of a folder, so that a file renamed into it is still named there after a power loss (POSIX: the rename is
/// durable only once the folder is synced). No-op on Windows, where NTFS journals the rename.
/// </summary>
public static class DurableDirectory
{
    private const int ReadOnly = 0; // O_RDONLY
    private const int Directory = 0x10000; // O_DIRECTORY on Linux x64/arm64

    /// <summary>Flushes the folder's entries to disk; throws IOException when the folder cannot be opened or synced.</summary>
    public static void Sync(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var flags = ReadOnly | (OperatingSystem.IsLinux() ? Directory : 0);
        var fd = Libc.Open(directory, flags, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open folder {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Libc.FSync(fd) != 0)
            {
                throw new IOException($"fsync of folder {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Libc.Close(fd);
        }
    }
}
