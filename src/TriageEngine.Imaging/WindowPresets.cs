namespace TriageEngine.Imaging;

/// <summary>Named windows in modality units, as reading stations offer them (CT in Hounsfield units).</summary>
public static class WindowPresets
{
    private static readonly Dictionary<string, WindowSpec> s_presets = new(StringComparer.OrdinalIgnoreCase)
    {
        ["brain"] = new(40, 80),
        ["subdural"] = new(80, 200),
        ["stroke"] = new(40, 40),
        ["bone"] = new(600, 2800),
        ["soft-tissue"] = new(50, 400),
        ["mediastinum"] = new(50, 350),
        ["lung"] = new(-600, 1500),
        ["liver"] = new(60, 160),
        ["abdomen"] = new(40, 400),
    };

    public static IReadOnlyCollection<string> Names => s_presets.Keys;

    public static bool TryGet(string name, out WindowSpec window)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (s_presets.TryGetValue(name, out var w))
        {
            window = w;
            return true;
        }

        window = new WindowSpec(0, 1);
        return false;
    }

    public static WindowSpec Get(string name) =>
        TryGet(name, out var w) ? w : throw new ArgumentException($"unknown window preset '{name}' (known: {string.Join(", ", s_presets.Keys)})", nameof(name));
}
