using System.Buffers.Binary;
using OpenCvSharp;
using TriageEngine.Dicom;

namespace TriageEngine.Imaging.Tests;

internal static class Images
{
    /// <summary>An 8-bit, three-sample ultrasound frame, interleaved (planar configuration 0).</summary>
    public static DicomDataset Colour8(int rows, int cols, string photometric, byte[] pixels)
    {
        var ds = new DicomDataset();
        ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.UltrasoundImageStorage)
          .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.3." + Random.Shared.Next(1, 1_000_000))
          .AddUInt16(DicomTags.Rows, (ushort)rows).AddUInt16(DicomTags.Columns, (ushort)cols)
          .AddUInt16(DicomTags.BitsAllocated, 8).AddUInt16(DicomTags.BitsStored, 8).AddUInt16(DicomTags.HighBit, 7)
          .AddUInt16(DicomTags.PixelRepresentation, 0).AddUInt16(DicomTags.SamplesPerPixel, 3).AddUInt16(DicomTags.PlanarConfiguration, 0)
          .AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, photometric)
          .AddBytes(DicomTags.PixelData, DicomVR.OB, pixels);
        return ds;
    }

    public static DicomDataset Mono16(int rows, int cols, Func<int, int, int> stored, string sopClass = DicomUid.CTImageStorage, string photometric = "MONOCHROME2")
    {
        var ds = new DicomDataset();
        ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, sopClass)
          .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.3." + Random.Shared.Next(1, 1_000_000))
          .AddUInt16(DicomTags.Rows, (ushort)rows).AddUInt16(DicomTags.Columns, (ushort)cols)
          .AddUInt16(DicomTags.BitsAllocated, 16).AddUInt16(DicomTags.BitsStored, 16).AddUInt16(DicomTags.HighBit, 15)
          .AddUInt16(DicomTags.PixelRepresentation, 0).AddUInt16(DicomTags.SamplesPerPixel, 1)
          .AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, photometric);
        var bytes = new byte[rows * cols * 2];
        for (var y = 0; y < rows; y++)
        {
            for (var x = 0; x < cols; x++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((y * cols + x) * 2), (ushort)stored(x, y));
            }
        }

        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, bytes);
        return ds;
    }

    public static DicomFile ToFile(DicomDataset ds) => DicomReader.Read(DicomWriter.ToBytes(DicomWriter.CreateFile(ds)));

    public static DicomDataset Lut(int first, int bits, params ushort[] data)
    {
        var item = new DicomDataset();
        item.AddUInt16(new DicomTag(0x0028, 0x3002), (ushort)data.Length, (ushort)first, (ushort)bits);
        var bytes = new byte[data.Length * 2];
        for (var i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), data[i]);
        }

        item.AddBytes(new DicomTag(0x0028, 0x3006), DicomVR.OW, bytes);
        return item;
    }
}

public class ResampleTests
{
    [Theory]
    [InlineData(512, 64)]
    [InlineData(256, 128)]
    [InlineData(96, 32)]
    public void Area_IntegerFactor_OpenCvAgreesWithBlockMean(int source, int size)
    {
        var rng = new Random(source);
        var src = Enumerable.Range(0, source * source).Select(_ => (float)rng.NextDouble()).ToArray();
        var ours = new float[size * size];
        ImagePreprocessor.Resample(src, source, source, ours, size, size, ResizeMethod.Area);
        var block = new float[size * size];
        AreaResize.Resize(src, source, source, block, size, size);
        using var m = Mat.FromPixelData(source, source, MatType.CV_32FC1, src);
        using var cv = new Mat();
        Cv2.Resize(m, cv, new Size(size, size), 0, 0, InterpolationFlags.Area);
        cv.GetArray(out float[] opencv);

        Assert.Equal(block, ours); // the manifest's block mean, bit for bit
        // OpenCV sums in another order: equal to within float rounding, not bit for bit (why integer factors keep the block mean)
        Assert.All(Enumerable.Range(0, ours.Length), i => Assert.True(Math.Abs(ours[i] - opencv[i]) < 1e-5f, $"pixel {i}: {ours[i]} vs {opencv[i]}"));
    }

    [Fact]
    public void Area_FractionalFactor_MatchesCoverageWeights()
    {
        var rng = new Random(3);
        var src = Enumerable.Range(0, 100 * 70).Select(_ => (float)rng.NextDouble() * 100).ToArray();
        var viaOpenCv = new float[30 * 21];
        ImagePreprocessor.Resample(src, 100, 70, viaOpenCv, 30, 21, ResizeMethod.Area);
        var reference = new float[30 * 21];
        AreaResize.Resize(src, 100, 70, reference, 30, 21);
        for (var i = 0; i < reference.Length; i++)
        {
            Assert.Equal(reference[i], viaOpenCv[i], 2);
        }
    }

    [Fact]
    public void Linear_Upscale_InterpolatesBetweenNeighbours()
    {
        float[] src = [0, 10, 20, 30];
        var dst = new float[8 * 1];
        ImagePreprocessor.Resample(src, 4, 1, dst, 8, 1, ResizeMethod.Linear);
        Assert.Equal(0f, dst[0]);
        Assert.Equal(2.5f, dst[1], 4); // half-pixel centres: x = 0.25 → 2.5
        Assert.Equal(30f, dst[7]);
    }
}

public class LutAndColourTests
{
    [Fact]
    public void ModalityLutSequence_ReplacesRescale()
    {
        var ds = Images.Mono16(2, 2, (x, y) => x + 2 * y); // 0,1,2,3
        ds.AddDecimals(DicomTags.RescaleSlope, 100); // ignored: the LUT sequence wins
        ds.AddSequence(new DicomTag(0x0028, 0x3000), Images.Lut(1, 16, 10, 20)); // 1→10, 2→20, below → 10, above → 20
        var img = ModalityImage.Decode(Images.ToFile(ds), 0);
        Assert.Equal([10f, 10f, 20f, 20f], img.Grey);
    }

    [Fact]
    public void VoiLutSequence_ScalesToUnitRange()
    {
        var ds = Images.Mono16(1, 4, (x, _) => x);
        ds.AddSequence(new DicomTag(0x0028, 0x3010), Images.Lut(0, 8, 0, 51, 255, 255));
        var spec = new PreprocessSpec([], WindowSource.VoiLut, true, 4, 1, [], []);
        var t = new float[4];
        ImagePreprocessor.ToTensor(Images.ToFile(ds), 0, spec, t);
        Assert.Equal(0f, t[0]);
        Assert.Equal(0.2f, t[1], 5);
        Assert.Equal(1f, t[2]);
    }

    [Fact]
    public void Ybr_ConvertsToRgbChannelsAndLuma()
    {
        // Y=128, Cb=128, Cr=255 → red-ish: R = Y + 1.402 (Cr-128) ≈ 306 → 255; G ≈ 128 - 0.714*127 ≈ 37; B = 128
        var ds = Images.Colour8(1, 2, "YBR_FULL", new byte[] { 128, 128, 255, 200, 128, 128 });
        var file = Images.ToFile(ds);
        var rgb = new float[3 * 2];
        ImagePreprocessor.ToTensor(file, 0, new PreprocessSpec([], WindowSource.Header, true, 2, 1, [], []) { Color = ColorMode.Rgb }, rgb);
        Assert.Equal(1f, rgb[0], 2);       // R of pixel 0
        Assert.InRange(rgb[2] * 255, 30, 45); // G of pixel 0
        Assert.Equal(128f / 255, rgb[4], 2); // B of pixel 0
        Assert.Equal(200f / 255, rgb[1], 2); // grey pixel 1: R = Y
        var grey = new float[2];
        ImagePreprocessor.ToTensor(file, 0, new PreprocessSpec([new WindowSpec(127.5, 255)], WindowSource.Manifest, true, 2, 1, [], []), grey);
        Assert.Equal(200f / 255, grey[1], 2);
    }

    [Fact]
    public void Decode_RgbInterleaved_SplitsIntoExactPlanes()
    {
        var ds = Images.Colour8(1, 3, "RGB", new byte[] { 255, 0, 7, 1, 254, 9, 100, 101, 102 });
        var img = ModalityImage.Decode(Images.ToFile(ds), 0);
        Assert.Equal(3, img.Planes.Count);
        Assert.Equal([255f, 1f, 100f], img.Planes[0]);
        Assert.Equal([0f, 254f, 101f], img.Planes[1]);
        Assert.Equal([7f, 9f, 102f], img.Planes[2]);
    }

    [Theory]
    [InlineData("RGB")]
    [InlineData("YBR_FULL")]
    public void Decode_ColourFrameShorterThanItsSize_FailsAsPixelDataError(string photometric)
    {
        var ds = Images.Colour8(2, 3, photometric, new byte[10]);
        var ex = Assert.Throws<DicomFormatException>(() => ModalityImage.Decode(Images.ToFile(ds), 0));
        Assert.Equal(DicomErrorCode.InvalidPixelData, ex.Code);
    }

    [Fact]
    public void Aspect_PadAndCrop_KeepProportions()
    {
        // 4 wide × 2 high, left half 0, right half 100; window 50/100 → 0 / 1
        var ds = Images.Mono16(2, 4, (x, _) => x < 2 ? 0 : 100);
        var file = Images.ToFile(ds);
        var pad = new float[4 * 4];
        ImagePreprocessor.ToTensor(file, 0, new PreprocessSpec([new WindowSpec(50, 100)], WindowSource.Manifest, true, 4, 4, [], []) { Aspect = AspectMode.Pad }, pad);
        Assert.Equal([0f, 0f, 0f, 0f], pad[..4]); // padded row
        Assert.Equal([0f, 0f, 1f, 1f], pad[4..8]);
        var crop = new float[2 * 2];
        ImagePreprocessor.ToTensor(file, 0, new PreprocessSpec([new WindowSpec(50, 100)], WindowSource.Manifest, true, 2, 2, [], []) { Aspect = AspectMode.Crop }, crop);
        Assert.Equal([0f, 1f, 0f, 1f], crop); // the centre 2×2
    }

    [Fact]
    public void ApplyWindow_VectorPathEqualsScalarFormula()
    {
        var rng = new Random(5);
        var values = Enumerable.Range(0, 1001).Select(_ => (float)(rng.NextDouble() * 400 - 200)).ToArray();
        var dst = new float[values.Length];
        ImagePreprocessor.ApplyWindow(values, new WindowSpec(40, 80), true, dst);
        for (var i = 0; i < values.Length; i++)
        {
            var v = Math.Clamp((values[i] - 0f) * (1f / 80f), 0f, 1f);
            Assert.Equal(1 - v, dst[i]);
        }
    }
}

public class SeriesVolumeTests
{
    private static DicomDataset Slice(double z, double tiltY = 0, string[]? imageType = null, string sopClass = DicomUid.CTImageStorage)
    {
        var ds = Images.Mono16(2, 2, (_, _) => (int)(z * 10));
        ds.AddDecimals(DicomTags.ImagePositionPatient, 0, tiltY, z).AddDecimals(DicomTags.ImageOrientationPatient, 1, 0, 0, 0, 1, 0);
        ds.AddStrings(DicomTags.ImageType, DicomVR.CS, imageType ?? ["ORIGINAL", "PRIMARY", "AXIAL"]);
        ds.Remove(DicomTags.SOPClassUID);
        ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, sopClass);
        return ds;
    }

    [Fact]
    public void Plan_SortsAlongNormal_SkipsLocaliserAndSecondaryCapture()
    {
        var plan = SeriesVolume.Plan(
        [
            ("c", Slice(10)), ("a", Slice(0)), ("loc", Slice(99, imageType: ["ORIGINAL", "PRIMARY", "LOCALIZER"])),
            ("b", Slice(5)), ("sc", Slice(50, sopClass: "1.2.840.10008.5.1.4.1.1.7")),
        ]);
        Assert.Equal(["a", "b", "c"], plan.Inputs.Select(i => i.Frames[0].Path));
        Assert.Equal(["loc", "sc"], plan.Skipped);
        Assert.Equal(5, plan.Spacing);
        Assert.False(plan.IrregularSpacing);
        Assert.Empty(plan.Warnings);
    }

    [Fact]
    public void Plan_IrregularSpacingAndTilt_Reported()
    {
        var plan = SeriesVolume.Plan([("a", Slice(0)), ("b", Slice(5, 1)), ("c", Slice(10, 2)), ("d", Slice(20, 4))]);
        Assert.True(plan.IrregularSpacing);
        Assert.InRange(plan.GantryTiltDegrees, 11, 12); // atan(4/20)
        Assert.Equal(2, plan.Warnings.Count);
    }

    [Fact]
    public void Plan_SliceThickness_AveragesIntoSlabs()
    {
        var slices = Enumerable.Range(0, 8).Select(i => ($"s{i}", Slice(i * 1.0))).ToList();
        var plan = SeriesVolume.Plan(slices, new VolumeOptions { SliceThickness = 4 });
        Assert.Equal(2, plan.Inputs.Count);
        Assert.Equal(["s0", "s1", "s2", "s3"], plan.Inputs[0].Frames.Select(f => f.Path));
        Assert.All(plan.Inputs[0].Weights, w => Assert.Equal(1.0, w, 6));
        var files = slices.ToDictionary(s => s.Item1, s => Images.ToFile(s.Item2));
        var slab = SeriesVolume.Load(plan.Inputs[1], p => files[p]);
        Assert.Equal(55f, slab.Grey[0], 4); // mean of 40, 50, 60, 70
    }

    [Fact]
    public void Plan_CineWithoutPositions_EveryNthFrame()
    {
        var ds = Images.Mono16(2, 2, (_, _) => 1);
        ds.AddString(DicomTags.NumberOfFrames, DicomVR.IS, "10");
        var plan = SeriesVolume.Plan([("us", ds)], new VolumeOptions { FrameStep = 3 });
        Assert.Equal([0, 3, 6, 9], plan.Inputs.Select(i => i.Frames[0].Frame));
    }
}

public class ImageRendererTests
{
    [Fact]
    public void RenderPng_WindowAndBox_DecodesBackWithOverlay()
    {
        var file = Images.ToFile(Images.Mono16(64, 64, (x, _) => x * 4));
        var png = ImageRenderer.RenderPng(file, 0, new WindowSpec(128, 256), new BoxOverlay(10, 10, 20, 20));
        Assert.Equal(0x89, png[0]);
        using var decoded = Cv2.ImDecode(png, ImreadModes.Color);
        Assert.Equal(64, decoded.Cols);
        var inside = decoded.At<Vec3b>(40, 5);
        Assert.Equal(inside.Item0, inside.Item2); // grey away from the box
        var edge = decoded.At<Vec3b>(10, 20);
        Assert.Equal(255, edge.Item2); // red box edge
        Assert.Equal(0, edge.Item0);
    }

    [Fact]
    public void RenderPng_HeatMap_ColoursOnlyAboveFloor()
    {
        var file = Images.ToFile(Images.Mono16(32, 32, (_, _) => 100));
        var heat = new float[4];
        heat[3] = 1f; // bottom-right quadrant hot
        var png = ImageRenderer.RenderPng(file, 0, new WindowSpec(100, 200), new HeatMapOverlay(heat, 2, 2));
        using var decoded = Cv2.ImDecode(png, ImreadModes.Color);
        var cold = decoded.At<Vec3b>(1, 1);
        var hot = decoded.At<Vec3b>(30, 30);
        Assert.Equal(cold.Item0, cold.Item2);
        Assert.NotEqual(hot.Item0, hot.Item2);
    }
}
