using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace TriageEngine.Dicom.Network;

/// <summary>
/// Writes a new file with O_DIRECT on Linux: the bytes go from an aligned buffer of ours to the disk without being
/// copied into the page cache first. On a busy ingest node that copy (and the page-cache bookkeeping of every received
/// instance) was a quarter of the server's CPU; the instance is read again only by the triage of its study, for which
/// a read from disk is cheap. The file is then fsync'd (its length and blocks), as a buffered one would be.
/// </summary>
internal static unsafe class DirectFile
{
    /// <summary>Alignment of the buffer address, file offsets and lengths: at least the logical block size of the disks in use.</summary>
    internal const int Alignment = 4096;

    /// <summary>Bytes written per call: a dataset larger than this is written in several aligned pieces.</summary>
    internal const int ChunkLength = 1 << 20;

    private const int WriteOnly = 0x1, Create = 0x40, Exclusive = 0x80, CloseOnExec = 0x80000, Direct = 0x4000;
    private const int InvalidArgument = 22; // EINVAL: the file system does not do O_DIRECT (tmpfs, some FUSE) or this alignment
    private const int GetFlags = 3, SetFlags = 4; // F_GETFL, F_SETFL
    private const int NoSuchFile = 2; // ENOENT: the folder is missing
    private const int Mode = 0x1B6; // 0666, less the umask, as a FileStream creates files

    /// <summary>Chunks kept for reuse (the rest are freed), enough for every association of a busy node.</summary>
    private const int PooledChunks = 32;

    private static readonly ConcurrentStack<nint> Chunks = new();

    /// <summary>
    /// Creates <paramref name="path"/> (it must not exist) holding <paramref name="header"/> followed by the rest of
    /// <paramref name="content"/>, written with O_DIRECT and fsync'd. Returns false, having left no file, when the file
    /// system refuses O_DIRECT (the caller then writes the file the buffered way); throws IOException for any other
    /// failure (disk full, I/O error), also leaving no file.
    /// </summary>
    public static bool TryWrite(string path, ReadOnlySpan<byte> header, Stream content)
    {
        if (!OperatingSystem.IsLinux() || header.Length > ChunkLength)
        {
            return false;
        }

        var fd = Libc.Open(path, WriteOnly | Create | Exclusive | CloseOnExec | Direct, Mode);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == InvalidArgument)
            {
                return false;
            }

            if (errno == NoSuchFile)
            {
                throw new DirectoryNotFoundException($"cannot create {path}: its folder is missing");
            }

            throw new IOException($"cannot create {path} (errno {errno})");
        }

        var chunk = RentChunk();
        var written = false;
        try
        {
            var buffer = new Span<byte>((void*)chunk, ChunkLength);
            header.CopyTo(buffer);
            var filled = header.Length;
            long offset = 0;
            while (true)
            {
                var read = content.Read(buffer[filled..]);
                filled += read;
                if (filled < ChunkLength && read > 0)
                {
                    continue;
                }

                if (filled == ChunkLength)
                {
                    if (!WriteAll(fd, chunk, ChunkLength, offset, path))
                    {
                        return false;
                    }

                    offset += ChunkLength;
                    filled = 0;
                    continue;
                }

                // the end: the aligned part of the last piece directly, then its tail (under one block) through the
                // page cache, O_DIRECT being turned off on the descriptor for it (cheaper than padding and truncating)
                var aligned = filled / Alignment * Alignment;
                if (aligned > 0 && !WriteAll(fd, chunk, aligned, offset, path))
                {
                    return false;
                }

                if (aligned < filled)
                {
                    var flags = Libc.Fcntl(fd, GetFlags, 0);
                    if (flags < 0 || Libc.Fcntl(fd, SetFlags, flags & ~Direct) < 0)
                    {
                        throw new IOException($"cannot end the direct write of {path} (errno {Marshal.GetLastPInvokeError()})");
                    }

                    if (!WriteAll(fd, chunk + aligned, filled - aligned, offset + aligned, path))
                    {
                        return false;
                    }
                }

                break;
            }

            if (Libc.FSync(fd) != 0)
            {
                throw new IOException($"fsync of {path} failed (errno {Marshal.GetLastPInvokeError()})");
            }

            written = true;
            return true;
        }
        finally
        {
            ReturnChunk(chunk);
            _ = Libc.Close(fd);
            if (!written)
            {
                _ = Libc.Unlink(path);
            }
        }
    }

    /// <summary>Writes the whole piece; false when the file system refuses the aligned direct write itself.</summary>
    private static bool WriteAll(int fd, nint buffer, int length, long offset, string path)
    {
        var done = 0;
        while (done < length)
        {
            var n = Libc.PWrite(fd, (byte*)buffer + done, length - done, offset + done);
            if (n < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == InvalidArgument && offset == 0 && done == 0)
                {
                    return false;
                }

                throw new IOException($"write of {path} failed (errno {errno})");
            }

            if (n == 0)
            {
                throw new IOException($"write of {path} made no progress");
            }

            done += (int)n;
        }

        return true;
    }

    private static nint RentChunk() =>
        Chunks.TryPop(out var chunk) ? chunk : (nint)NativeMemory.AlignedAlloc(ChunkLength, Alignment);

    private static void ReturnChunk(nint chunk)
    {
        if (Chunks.Count < PooledChunks)
        {
            Chunks.Push(chunk);
        }
        else
        {
            NativeMemory.AlignedFree((void*)chunk);
        }
    }
}
