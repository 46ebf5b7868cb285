using System.Net;
using Microsoft.Extensions.Logging;

namespace TriageEngine.Dicom.Network;

/// <summary>Source-generated log messages of the DICOM network layer (event ids 3000-3099).</summary>
internal static partial class NetworkLog
{
    [LoggerMessage(3000, LogLevel.Information, "DICOM listener {AETitle} listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, string aeTitle, EndPoint? endPoint);

    [LoggerMessage(3001, LogLevel.Information, "DICOM listener stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(3002, LogLevel.Warning, "Association limit {Limit} reached; rejecting {Remote}")]
    public static partial void LimitReached(ILogger logger, int limit, EndPoint? remote);

    [LoggerMessage(3003, LogLevel.Information, "Association from {CallingAE} ({Remote}) to {CalledAE}: {Outcome}")]
    public static partial void Negotiated(ILogger logger, string callingAE, EndPoint? remote, string calledAE, string outcome);

    [LoggerMessage(3004, LogLevel.Warning, "Association from {CallingAE} ({Remote}) rejected: {Reason}")]
    public static partial void Rejected(ILogger logger, string callingAE, EndPoint? remote, string reason);

    [LoggerMessage(3005, LogLevel.Warning, "Association with {Remote} aborted: {Error}")]
    public static partial void Aborted(ILogger logger, EndPoint? remote, DicomNetworkError error, Exception exception);

    [LoggerMessage(3006, LogLevel.Information, "Association with {CallingAE} released")]
    public static partial void Released(ILogger logger, string callingAE);

    [LoggerMessage(3007, LogLevel.Information, "C-STORE {SopInstanceUid} ({SopClassUid}, {TransferSyntax}, {Length} bytes): status 0x{Status:X4}")]
    public static partial void Stored(ILogger logger, string sopInstanceUid, string sopClassUid, string transferSyntax, long length, ushort status);

    [LoggerMessage(3008, LogLevel.Error, "Storage handler failed for {SopInstanceUid}")]
    public static partial void HandlerFailed(ILogger logger, string sopInstanceUid, Exception exception);

    [LoggerMessage(3009, LogLevel.Warning, "Connection from {Remote} failed: {Message}")]
    public static partial void ConnectionFailed(ILogger logger, EndPoint? remote, string message);

    [LoggerMessage(3010, LogLevel.Debug, "C-ECHO from {CallingAE}")]
    public static partial void Echo(ILogger logger, string callingAE);

    [LoggerMessage(3011, LogLevel.Warning, "C-STORE {SopInstanceUid} refused with 0x{Status:X4}: {Problem}")]
    public static partial void StoreRefused(ILogger logger, string? sopInstanceUid, ushort status, string problem);
}
