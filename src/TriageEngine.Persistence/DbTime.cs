using System.Globalization;

namespace TriageEngine.Persistence;

/// <summary>Timestamps: timestamptz on PostgreSQL; fixed-width ISO-8601 UTC text on SQLite (sorts as time does).</summary>
internal static class DbTime
{
    public static object ToDb(SqlDialect dialect, DateTimeOffset value) => dialect == SqlDialect.Postgres
        ? value.ToUniversalTime()
        : value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset FromDb(object value) => value switch
    {
        DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)),
        DateTimeOffset dto => dto,
        string s => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
        _ => throw new InvalidOperationException($"unexpected timestamp type {value.GetType().Name}"),
    };

    public static DateTimeOffset? FromDbNullable(object? value) => value is null or DBNull ? null : FromDb(value);
}
