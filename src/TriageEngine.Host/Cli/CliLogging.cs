using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace TriageEngine.Host.Cli;

/// <summary>Logging for one-shot verbs: one line per event on stderr, our categories at the given level.</summary>
public static class CliLogging
{
    public static ILoggerFactory Create(TextWriter error, LogLevel level)
    {
        if (level == LogLevel.None)
        {
            return NullLoggerFactory.Instance;
        }

        return LoggerFactory.Create(b => b
            .SetMinimumLevel(LogLevel.Warning)
            .AddFilter("TriageEngine", level)
            .AddProvider(new LineLoggerProvider(error)));
    }

    private sealed class LineLoggerProvider(TextWriter writer) : ILoggerProvider
    {
        private readonly Lock _gate = new();

        public ILogger CreateLogger(string categoryName) => new LineLogger(writer, _gate);

        public void Dispose()
        {
        }
    }

    private sealed class LineLogger(TextWriter writer, Lock gate) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var level = logLevel switch
            {
                LogLevel.Information => "info",
                LogLevel.Warning => "warn",
                LogLevel.Error => "fail",
                LogLevel.Critical => "crit",
                LogLevel.Debug => "dbug",
                _ => "trce",
            };
            lock (gate)
            {
                writer.WriteLine($"{level}: {formatter(state, exception)}");
            }
        }
    }
}
