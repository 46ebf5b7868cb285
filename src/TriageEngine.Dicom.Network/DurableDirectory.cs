using System.Runtime.InteropServices;

namespace TriageEngine.Dicom.Network;

/// <summary>
/// fsync of a folder, so that a file renamed into it is still named there after a power loss (POSIX: the rename is
/// durable only once the folder is synced). No-op on Windows, where NTFS journals the rename.
/// </summary>
public static partial class DurableDirectory
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
        var fd = Open(directory, flags);
        if (fd < 0)
        {
            throw new IOException($"cannot open folder {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of folder {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Close(int fd);
}
