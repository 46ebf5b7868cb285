using System.Buffers.Binary;
using TriageEngine.Dicom;

namespace TriageEngine.Imaging.Tests;

public class AreaResizeTests
{
    [Fact]
    public void Resize_IntegerFactor_BlockMean()
    {
        float[] src = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
        var dst = new float[4];

        AreaResize.Resize(src, 4, 4, dst, 2, 2);

        Assert.Equal([3.5f, 5.5f, 11.5f, 13.5f], dst);
    }

    [Fact]
    public void Resize_FractionalFactor_PreservesMeanAndConstants()
    {
        var src = Enumerable.Range(0, 5 * 3).Select(i => (float)i).ToArray();
        var dst = new float[2 * 2];
        AreaResize.Resize(src, 5, 3, dst, 2, 2);
        Assert.Equal(src.Average(), dst.Average(), 3);

        var flat = Enumerable.Repeat(7f, 7 * 5).ToArray();
        var flatDst = new float[3 * 2];
        AreaResize.Resize(flat, 7, 5, flatDst, 3, 2);
        Assert.All(flatDst, v => Assert.Equal(7f, v, 4));
    }
}

public class ImagePreprocessorTests
{
    /// <summary>A CT-like 4×4 image: stored = HU + 1024, rescale intercept -1024.</summary>
    private static DicomFile Ct(short[] hu, string photometric = "MONOCHROME2")
    {
        var ds = new DicomDataset();
        ds.AddString(DicomTags.SOPClassUID, DicomVR.UI, DicomUid.CTImageStorage)
          .AddString(DicomTags.SOPInstanceUID, DicomVR.UI, "1.2.3.4")
          .AddUInt16(DicomTags.Rows, 4).AddUInt16(DicomTags.Columns, 4)
          .AddUInt16(DicomTags.BitsAllocated, 16).AddUInt16(DicomTags.BitsStored, 12).AddUInt16(DicomTags.HighBit, 11)
          .AddUInt16(DicomTags.PixelRepresentation, 0).AddUInt16(DicomTags.SamplesPerPixel, 1)
          .AddString(DicomTags.PhotometricInterpretation, DicomVR.CS, photometric)
          .AddDecimals(DicomTags.RescaleIntercept, -1024).AddDecimals(DicomTags.RescaleSlope, 1)
          .AddDecimals(DicomTags.WindowCenter, 40).AddDecimals(DicomTags.WindowWidth, 80);
        var bytes = new byte[32];
        for (var i = 0; i < 16; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), (ushort)(hu[i] + 1024));
        }

        ds.AddBytes(DicomTags.PixelData, DicomVR.OW, bytes);
        var file = DicomWriter.CreateFile(ds);
        return DicomReader.Read(DicomWriter.ToBytes(file));
    }

    private static readonly short[] s_hu = [-1000, 0, 40, 80, -1000, 0, 40, 80, 1000, 20, 60, 100, 1000, 20, 60, 100];

    [Fact]
    public void ToTensor_TwoWindows_TwoChannelsInHounsfieldUnits()
    {
        var spec = new PreprocessSpec([new WindowSpec(40, 80), new WindowSpec(80, 200)], WindowSource.Manifest, true, 4, 4, [], []);
        var t = new float[spec.TensorLength];

        ImagePreprocessor.ToTensor(Ct(s_hu), 0, spec, t);

        // brain window 40/80: 0 HU → 0, 40 → 0.5, 80 → 1, -1000 → 0, 1000 → 1
        Assert.Equal([0f, 0f, 0.5f, 1f], t[..4]);
        Assert.Equal(0.75f, t[10], 5); // 60 HU
        // subdural 80/200: lo = -20; 0 HU → 0.1
        Assert.Equal(0.1f, t[16 + 1], 5);
    }

    [Fact]
    public void ToTensor_Monochrome1WithHeaderWindow_Inverted()
    {
        var spec = new PreprocessSpec([], WindowSource.Header, true, 4, 4, [], []);
        var t = new float[16];

        ImagePreprocessor.ToTensor(Ct(s_hu, "MONOCHROME1"), 0, spec, t);

        Assert.Equal(1f, t[0]); // -1000 HU → 0 → inverted to 1
        Assert.Equal(0.5f, t[2], 5); // 40 HU, the header's centre
        Assert.Equal(0f, t[3]);
    }

    [Fact]
    public void ToTensor_ResizeAndNormalise_Applied()
    {
        var spec = new PreprocessSpec([new WindowSpec(40, 80)], WindowSource.Manifest, true, 2, 2, [0.5f], [0.25f]);
        var t = new float[4];

        ImagePreprocessor.ToTensor(Ct(s_hu), 0, spec, t);

        // top-left block: -1000, 0, -1000, 0 → 0 → (0 - 0.5)/0.25 = -2
        Assert.Equal(-2f, t[0], 5);
        // bottom-right block: 60, 100, 60, 100 → (0.75 + 1) / 2 = 0.875 → 1.5
        Assert.Equal(1.5f, t[3], 5);
    }

    private static float[] Marked(int width, int height, int row, int column)
    {
        var map = new float[width * height];
        map[(row * width) + column] = 1;
        return map;
    }

    private static (int Row, int Column) Hottest(float[] values, int width)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return (best / width, best % width);
    }

    [Theory]
    [InlineData(AspectMode.Stretch, 200, 100, 1, 2, 37, 125)] // cell (1,2) of 4×4 stretched over 200×100: rows 25–49, columns 100–149
    [InlineData(AspectMode.Pad, 200, 100, 2, 2, 75, 125)] // 200×100 padded to 200×200 (50 rows above): canvas row 125 is image row 75
    [InlineData(AspectMode.Crop, 200, 100, 1, 1, 37, 87)] // the middle 100×100 (columns 50–149) is what the model saw
    public void MapToImage_AspectModes_CellLandsWhereTheModelSawIt(AspectMode aspect, int width, int height, int cellRow, int cellColumn, int row, int column)
    {
        var spec = new PreprocessSpec([new WindowSpec(40, 80)], WindowSource.Manifest, true, 4, 4, [], []) { Aspect = aspect };

        var onImage = ImagePreprocessor.MapToImage(Marked(4, 4, cellRow, cellColumn), 4, 4, width, height, spec);

        Assert.Equal(width * height, onImage.Length);
        var (r, c) = Hottest(onImage, width);
        Assert.InRange(r, row - 13, row + 13);
        Assert.InRange(c, column - 13, column + 13);
    }

    [Fact]
    public void MapToImage_Crop_OutsideWhatTheModelSawIsZero()
    {
        var spec = new PreprocessSpec([new WindowSpec(40, 80)], WindowSource.Manifest, true, 4, 4, [], []) { Aspect = AspectMode.Crop };
        var all = new float[16];
        Array.Fill(all, 1f);

        var onImage = ImagePreprocessor.MapToImage(all, 4, 4, 200, 100, spec);

        Assert.Equal(0f, onImage[10]); // row 0, column 10: cropped away
        Assert.Equal(1f, onImage[(50 * 200) + 100], 3);
        Assert.Equal(0f, onImage[(99 * 200) + 199]);
    }
}
