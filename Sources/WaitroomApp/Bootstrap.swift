import Logging
import Synchronization

/// Process-wide set-up that may happen only once (logging, metrics).
public enum Bootstrap {
    private static let loggingDone = Mutex(false)

    /// Structured logging to standard error: `key=value` metadata on every line, or one JSON
    /// object per line when `json` is set.
    public static func logging(level: Logger.Level, json: Bool = false) {
        let first = loggingDone.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        if json {
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
            return
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
