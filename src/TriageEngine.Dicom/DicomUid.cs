using System.Numerics;
using System.Security.Cryptography;

namespace TriageEngine.Dicom;

/// <summary>UID constants, validation and generation.</summary>
public static class DicomUid
{
    /// <summary>UUID-derived root (PS3.5 §B.2): 2.25.&lt;uuid as integer&gt;.</summary>
    public const string ImplementationClassUid = "2.25.288930128335434520112392187357386513215";
    public const string ImplementationVersionName = "TRIAGEENGINE_01";

    public const string CTImageStorage = "1.2.840.10008.5.1.4.1.1.2";
    public const string MRImageStorage = "1.2.840.10008.5.1.4.1.1.4";
    public const string ComputedRadiographyImageStorage = "1.2.840.10008.5.1.4.1.1.1";
    public const string DigitalXRayImageStorageForPresentation = "1.2.840.10008.5.1.4.1.1.1.1";
    public const string UltrasoundImageStorage = "1.2.840.10008.5.1.4.1.1.6.1";
    public const string UltrasoundMultiFrameImageStorage = "1.2.840.10008.5.1.4.1.1.3.1";
    public const string SecondaryCaptureImageStorage = "1.2.840.10008.5.1.4.1.1.7";

    /// <summary>A new random UID under 2.25.</summary>
    public static string Generate()
    {
        Span<byte> b = stackalloc byte[16];
        RandomNumberGenerator.Fill(b);
        return FromBytes(b);
    }

    /// <summary>A UID derived deterministically from 16 bytes (e.g. a seeded generator or a hash).</summary>
    public static string FromBytes(ReadOnlySpan<byte> sixteen)
    {
        if (sixteen.Length != 16)
        {
            throw new ArgumentException("A UUID-derived UID needs 16 bytes.", nameof(sixteen));
        }

        Span<byte> b = stackalloc byte[16];
        sixteen.CopyTo(b);
        b[6] = (byte)((b[6] & 0x0F) | 0x40); // version 4
        b[8] = (byte)((b[8] & 0x3F) | 0x80); // variant
        var value = new BigInteger(b, isUnsigned: true, isBigEndian: true);
        return "2.25." + value.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>PS3.5 §9.1: digits and dots, no leading zeros in a component, at most 64 characters.</summary>
    public static bool IsValid(ReadOnlySpan<char> uid)
    {
        if (uid.IsEmpty || uid.Length > 64)
        {
            return false;
        }

        var componentStart = 0;
        for (var i = 0; i <= uid.Length; i++)
        {
            if (i == uid.Length || uid[i] == '.')
            {
                var len = i - componentStart;
                if (len == 0 || (len > 1 && uid[componentStart] == '0'))
                {
                    return false;
                }

                componentStart = i + 1;
            }
            else if (uid[i] is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }
}
