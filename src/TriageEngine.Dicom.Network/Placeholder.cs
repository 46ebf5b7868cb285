namespace TriageEngine.Dicom.Network;

/// <summary>Placeholder so the project builds; the upper layer and DIMSE services replace it.</summary>
internal static class NetworkPlaceholder
{
}
