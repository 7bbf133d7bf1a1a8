import Dispatch
import Foundation

/// Standard output as a screen for the live view: the alternate screen with the cursor hidden
/// while it runs, and the user's screen back on exit or on Ctrl-C / SIGTERM / SIGHUP.
enum Terminal {
    static let enter = "\u{1B}[?1049h\u{1B}[?25l"
    static let leave = "\u{1B}[?25h\u{1B}[?1049l"

    /// Whether standard output is a terminal (else the live view prints one table after another).
    static var isInteractive: Bool { isatty(STDOUT_FILENO) == 1 }

    /// `lines` drawn over the previous screen: cursor home, each line cleared to its end, and
    /// what is below the last line cleared, so nothing flickers and nothing stale stays.
    static func frame(_ lines: [String]) -> String {
        "\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\r\n") + "\r\n\u{1B}[J"
    }

    /// Held for every write to standard output and kept by a signal handler that ends the
    /// process, so that no frame is half drawn over the restored screen.
    private static let output = NSLock()

    static func write(_ text: String) {
        output.lock()
        defer { output.unlock() }
        do {
            try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
        } catch {
            // The reader is gone (`… | head`): nobody is left to show anything to.
            exit(0)
        }
    }

    /// Writes `text` last and ends the process with `code`; a frame being drawn finishes first.
    static func finish(writing text: String, exitCode code: Int32) -> Never {
        output.lock()
        try? FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
        exit(code)
    }

    static func writeError(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }

    /// Calls `handler` on SIGINT, SIGTERM or SIGHUP instead of dying at once; keep the answer
    /// alive as long as the handler should be in force.
    static func onSignals(_ handler: @escaping @Sendable (Int32) -> Void) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM, SIGHUP].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }
}
