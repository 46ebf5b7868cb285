namespace TriageEngine.Hl7;

/// <summary>Placeholder type so the project builds; the HL7 v2 parser replaces it.</summary>
internal static class Hl7Placeholder
{
}
