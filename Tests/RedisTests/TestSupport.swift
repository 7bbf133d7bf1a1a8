import Foundation
import Logging
import NIOCore
import NIOPosix
import Redis

enum TestSupport {
    /// The shared Redis of the test run.
    static var sharedURL: String {
        ProcessInfo.processInfo.environment["WAITROOM_REDIS_URL"] ?? "redis://127.0.0.1:6391"
    }

    static let logger: Logger = {
        var logger = Logger(label: "redis-tests")
        logger.logLevel = .notice
        return logger
    }()

    /// A key prefix no other test (or suite sharing the server) uses.
    static func uniquePrefix(_ name: String = #function) -> String {
        "redistest:\(name.prefix { $0 != "(" }):\(UUID().uuidString):"
    }

    /// A client of the shared Redis; fails with a clear message when it does not answer.
    static func sharedClient(configure: (inout RedisConfiguration) -> Void = { _ in }) async throws -> RedisClient {
        var configuration = try RedisConfiguration(url: sharedURL)
        configure(&configuration)
        let client = RedisClient(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        do {
            try await client.ping()
        } catch {
            await client.close()
            throw TestFailure("Redis at \(sharedURL) is unreachable (\(error)). Start it (scripts/services.sh start, or "
                + "`redis-server --port 6391 --save '' --appendonly no --daemonize yes`) or set WAITROOM_REDIS_URL.")
        }
        return client
    }

    /// Runs `operation`, failing if it takes longer than `seconds` (so a hang fails instead of blocking the run).
    static func withDeadline<T: Sendable>(
        _ seconds: Double,
        _ what: String = "operation",
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw TestFailure("\(what) did not finish within \(seconds) s")
            }
            return value
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A private `redis-server` child process on a free loopback port, for tests that stop and
/// restart Redis without disturbing the shared instance.
final class RedisServerProcess: @unchecked Sendable {  // used from one test task at a time
    let port: Int
    private var process: Process?

    var url: String { "redis://127.0.0.1:\(port)" }

    private let extraArguments: [String]

    init(arguments: [String] = []) async throws {
        extraArguments = arguments
        port = try await Self.freePort()
        try await start()
    }

    // SIGKILL throughout: the child inherits the test process's blocked-signal mask, so SIGTERM
    // would not stop it.
    deinit {
        if let process { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Starts the server (again) on the same port and waits until it answers.
    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try await waitUntilAnswering()
    }

    /// `true` between ``start()`` and ``kill()``.
    var isRunning: Bool { process != nil }

    /// SIGKILL: no goodbye to the clients.
    func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    func stop() { kill() }

    private func waitUntilAnswering() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get() {
                try? await channel.close().get()
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("private redis-server on port \(port) did not start")
    }

    /// A port nothing listens on right now (the kernel's pick).
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close().get()
        guard port > 0 else { throw TestFailure("no free port") }
        return port
    }
}
