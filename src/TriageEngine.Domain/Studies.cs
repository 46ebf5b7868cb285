namespace TriageEngine.Domain;

/// <summary>An instance received and durably stored: what assembly, routing and the worklist need of its header.</summary>
public sealed record StoredInstance(
    string SopInstanceUid,
    string StudyInstanceUid,
    string SeriesInstanceUid,
    string? SopClassUid,
    string? Modality,
    string? BodyPartExamined,
    string? StudyDescription,
    string? SeriesDescription,
    string? AccessionNumber,
    string? PatientId,
    int? InstanceNumber,
    double? SlicePosition,
    int Frames,
    int? ImagesInAcquisition,
    string Path,
    long Bytes,
    DateTimeOffset ReceivedAt);

/// <summary>Where a study is in the pipeline.</summary>
public enum StudyState
{
    /// <summary>Instances are arriving; triage waits for the assembly rules.</summary>
    Receiving,

    /// <summary>A node claimed it and is triaging it.</summary>
    Triaging,

    /// <summary>Triaged; a new instance sends it back to Receiving for a re-triage.</summary>
    Triaged,
}

/// <summary>A study claimed for triage: the generation (instance count) it was claimed at.</summary>
public sealed record StudyClaim(string StudyInstanceUid, long Generation, DateTimeOffset FirstReceivedAt, DateTimeOffset LastReceivedAt)
{
    /// <summary>Unique to this claim: a job that carries it acts only while the claim is still the current one.</summary>
    public string Token { get; init; } = "";
}

/// <summary>Study assembly state and the instances of each study. All timer state lives here, so a restart loses none.</summary>
public interface IStudyStore
{
    /// <summary>Records a stored instance (idempotent by SOP Instance UID); returns false when it was already known.</summary>
    Task<bool> AddInstanceAsync(StoredInstance instance, CancellationToken cancellationToken);

    /// <summary>
    /// Records several stored instances in one transaction (all or none); returns, per instance in order, whether it
    /// was new. The rows of a group commit.
    /// </summary>
    Task<IReadOnlyList<bool>> AddInstancesAsync(IReadOnlyList<StoredInstance> instances, CancellationToken cancellationToken);

    /// <summary>The oldest last-received time among studies still receiving (null when none): the next quiet-period deadline is this plus the quiet period.</summary>
    Task<DateTimeOffset?> OldestReceivingAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Claims studies that are ready: receiving and quiet since <paramref name="quietBefore"/>, or with every expected
    /// image of a series present; also reclaims studies whose claim is older than <paramref name="staleClaimBefore"/>
    /// (a node that died). Each study is claimed by one node only.
    /// </summary>
    Task<IReadOnlyList<StudyClaim>> ClaimReadyAsync(DateTimeOffset now, DateTimeOffset quietBefore, DateTimeOffset staleClaimBefore, string node, int max, CancellationToken cancellationToken);

    Task<IReadOnlyList<StoredInstance>> InstancesAsync(string studyInstanceUid, CancellationToken cancellationToken);

    /// <summary>Marks the claim done: Triaged when no instance arrived since the claim, else back to Receiving.</summary>
    Task<StudyState> CompleteAsync(StudyClaim claim, CancellationToken cancellationToken);

    Task<StudyState?> StateAsync(string studyInstanceUid, CancellationToken cancellationToken);

    /// <summary>Returns to Receiving the studies claimed by earlier processes of a node (claimed_by starts with the prefix, is not <paramref name="currentNode"/>).</summary>
    Task<int> ReleaseClaimsAsync(string nodePrefix, string currentNode, CancellationToken cancellationToken);

    /// <summary>The current claim of a study when it still carries <paramref name="token"/> (else null: completed, or claimed again).</summary>
    Task<StudyClaim?> FindClaimAsync(string studyInstanceUid, string token, CancellationToken cancellationToken);

    /// <summary>
    /// Completes the claim that carries <see cref="StudyClaim.Token"/> and records the triage result in the same
    /// transaction; null (and nothing recorded) when that claim is no longer current.
    /// </summary>
    Task<StudyState?> CompleteWithResultAsync(StudyClaim claim, string node, WorklistItem item, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The completed triages of a study, oldest first.</summary>
    Task<IReadOnlyList<TriageResultRecord>> TriageResultsAsync(string studyInstanceUid, CancellationToken cancellationToken);

    /// <summary>Studies whose instances carry this accession number.</summary>
    Task<IReadOnlyList<string>> StudiesByAccessionAsync(string accessionNumber, CancellationToken cancellationToken);
}

/// <summary>An imaging order as the ordering system sent it (HL7 ORM/OMI), linked to studies by accession number.</summary>
public sealed record ImagingOrder(
    string AccessionNumber,
    string? PatientId,
    string? PlacerOrderNumber,
    string? ProcedureCode,
    string? ProcedureText,
    OrderPriority? Priority,
    PatientClass? PatientClass,
    string? Location,
    string? OrderingProvider,
    string Status,
    DateTimeOffset UpdatedAt);

public interface IOrderStore
{
    Task UpsertAsync(ImagingOrder order, CancellationToken cancellationToken);

    Task<ImagingOrder?> FindAsync(string accessionNumber, CancellationToken cancellationToken);

    /// <summary>ADT^A40 merge: orders of the prior patient id are moved to the surviving one; returns their accession numbers.</summary>
    Task<IReadOnlyList<string>> MergePatientAsync(string priorPatientId, string patientId, CancellationToken cancellationToken);

    /// <summary>Updates patient class and location on every open order of a patient (ADT); returns their accession numbers.</summary>
    Task<IReadOnlyList<string>> UpdatePatientAsync(string patientId, PatientClass? patientClass, string? location, CancellationToken cancellationToken);
}

/// <summary>Inbound HL7 messages as received, for idempotency (sender + control id) and audit.</summary>
public interface IInboundMessageStore
{
    /// <summary>Whether a message with this sender and control id was recorded (its effects are committed).</summary>
    Task<bool> SeenAsync(string sender, string controlId, CancellationToken cancellationToken);

    /// <summary>Records the raw message after its effects; false when the same sender and control id were recorded before.</summary>
    Task<bool> TryAddAsync(string sender, string controlId, string messageType, string raw, DateTimeOffset receivedAt, CancellationToken cancellationToken);
}

/// <summary>State of an outbound HL7 message in the durable outbox.</summary>
public enum OutboxState
{
    Pending,
    Delivered,

    /// <summary>Given up (rejected, or retries exhausted): visible through the API for an operator.</summary>
    DeadLetter,
}

/// <summary>One outbound HL7 message, queued in the same database as the decision that caused it.</summary>
public sealed record OutboxMessage(
    long Id,
    string Destination,
    string ControlId,
    string MessageType,
    string? AccessionNumber,
    string StudyInstanceUid,
    string PriorityCode,
    string Payload,
    OutboxState State,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset NextAttemptAt,
    string? LastError,
    string? AckCode);

/// <summary>The durable HL7 outbox: at-least-once, in order per destination.</summary>
public interface IOutboxStore
{
    /// <summary>Queues a message; returns its id.</summary>
    Task<long> EnqueueAsync(OutboxMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Queues the messages of one decision in one transaction: all of them or none (a crash part-way leaves none, so the
    /// decision is queued whole when the study is triaged again). Returns their ids, in order.
    /// </summary>
    Task<IReadOnlyList<long>> EnqueueAllAsync(IReadOnlyList<OutboxMessage> messages, CancellationToken cancellationToken);

    /// <summary>The oldest pending message of a destination (the next to send, in order), or null.</summary>
    Task<OutboxMessage?> NextPendingAsync(string destination, CancellationToken cancellationToken);

    Task MarkDeliveredAsync(long id, string ackCode, CancellationToken cancellationToken);

    Task MarkFailedAsync(long id, string error, DateTimeOffset nextAttemptAt, bool deadLetter, CancellationToken cancellationToken);

    /// <summary>The priority code last queued for a study to a destination (to send only changes).</summary>
    Task<string?> LastQueuedPriorityAsync(string destination, string studyInstanceUid, string messageType, CancellationToken cancellationToken);

    Task<IReadOnlyList<OutboxMessage>> ListAsync(OutboxState? state, int limit, CancellationToken cancellationToken);
}
