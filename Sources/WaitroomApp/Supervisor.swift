import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Runs `processes` copies of the worker (`waitroomd worker`) that share one port with
/// `SO_REUSEPORT`, restarts a worker that dies (with backoff), hands every worker the same
/// configuration (above all the same signing key), and on graceful shutdown tells the workers
/// to drain (SIGTERM), killing any that outlive the drain deadline.
public final class Supervisor: Service {
    private let configuration: ServerConfiguration
    private let executable: URL
    private let arguments: [String]
    private let baseEnvironment: [String: String]
    private let logger: Logger
    private let state: Mutex<State>
    private let restartsCounter = Counter(label: "waitroom_supervisor_restarts_total")

    private struct State {
        var machine: SupervisorStateMachine
        var processes: [Int: Process] = [:]
        /// Where the workers open their combiner sockets (`CombinerTransport`), made for this run.
        var combinerDirectory: String?
    }

    public init(configuration: ServerConfiguration, executable: URL, arguments: [String] = ["worker"],
                environment: [String: String], logger: Logger,
                policy: SupervisorStateMachine.Policy = .init()) {
        self.configuration = configuration
        self.executable = executable
        self.arguments = arguments
        self.baseEnvironment = environment
        self.logger = logger
        self.state = Mutex(State(machine: SupervisorStateMachine(workers: configuration.processes, policy: policy)))
    }

    /// Process ids of the running workers, by slot.
    public var workerPIDs: [Int: Int32] {
        state.withLock { $0.processes.mapValues { $0.processIdentifier } }
    }

    public func run() async throws {
        let start = ContinuousClock.now
        @Sendable func now() -> Double {
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        logger.info("supervisor starting workers", metadata: [
            "processes": "\(configuration.processes)", "port": "\(configuration.port)",
        ])
        // WAITROOM_INVENTORY_COMBINE=0: no sockets, so each worker combines its own operations.
        let combine = configuration.processes > 1 && configuration.role.runsEdge
            && baseEnvironment["WAITROOM_INVENTORY_COMBINE"] != "0"
        let combinerDirectory = combine ? makeCombinerDirectory() : nil
        state.withLock { $0.combinerDirectory = combinerDirectory }
        defer { if let combinerDirectory { try? FileManager.default.removeItem(atPath: combinerDirectory) } }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for slot in 0..<configuration.processes {
                    group.addTask { await self.runSlot(slot, now: now) }
                }
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        logger.info("supervisor stopped")
    }

    /// A private directory (mode 0700) for the workers' combiner sockets, or nil (each worker then
    /// combines on its own).
    ///
    /// The directory's name carries the supervisor's pid, so that one killed outright (`kill -9`,
    /// which leaves its directory behind) is cleaned up by the next supervisor that starts.
    private func makeCombinerDirectory() -> String? {
        let temporary = NSTemporaryDirectory()
        for stale in Self.staleCombinerDirectories(in: temporary, isAlive: Self.processExists) {
            do {
                try FileManager.default.removeItem(atPath: stale)
                logger.info("removed the combiner directory of a supervisor that is gone", metadata: ["path": "\(stale)"])
            } catch {
                logger.warning("could not remove the combiner directory of a supervisor that is gone", metadata: ["path": "\(stale)", "error": "\(error)"])
            }
        }
        var template = Array((temporary as NSString).appendingPathComponent("\(Self.combinerPrefix)\(getpid())-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            logger.warning("no directory for the combiner sockets; each worker combines on its own", metadata: ["errno": "\(errno)"])
            return nil
        }
        return String(cString: made)
    }

    static let combinerPrefix = "waitroom-combiner-"

    /// This user's combiner directories in `directory` whose supervisor (the pid in the name) is
    /// no longer running. Names without a pid, and other users' directories, are left alone.
    static func staleCombinerDirectories(in directory: String, isAlive: (pid_t) -> Bool) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var stale: [String] = []
        for name in names where name.hasPrefix(combinerPrefix) {
            let rest = name.dropFirst(combinerPrefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0, !isAlive(pid) else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid() else { continue }
            stale.append(path)
        }
        return stale.sorted()
    }

    /// Whether a process with this pid exists (`kill(pid, 0)`; a process of another user counts).
    static func processExists(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Keeps one slot filled until shutdown.
    private func runSlot(_ slot: Int, now: @Sendable () -> Double) async {
        var delay = 0.0
        while true {
            if delay > 0 { try? await Task.sleep(for: .seconds(delay)) }
            if state.withLock({ $0.machine.isShuttingDown }) { return }
            let exit = await spawnAndWait(slot: slot, now: now)
            let action = state.withLock { $0.machine.exited(slot: slot, at: now()) }
            guard case .start(_, let nextDelay) = action else { return }
            restartsCounter.increment()
            logger.warning("worker exited; restarting", metadata: [
                "slot": "\(slot)", "status": "\(exit)", "delay_s": "\(nextDelay)",
            ])
            delay = nextDelay
        }
    }

    /// Starts the worker of `slot` and waits for it to end; answers its exit status.
    private func spawnAndWait(slot: Int, now: @Sendable () -> Double) async -> String {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = configuration.workerEnvironment(base: baseEnvironment, workerIndex: slot)
        if let directory = state.withLock({ $0.combinerDirectory }) { environment["WAITROOM_COMBINER_DIR"] = directory }
        process.environment = environment
        return await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            process.terminationHandler = { p in
                let reason = p.terminationReason == .uncaughtSignal ? "signal \(p.terminationStatus)" : "exit \(p.terminationStatus)"
                continuation.resume(returning: reason)
            }
            do {
                try process.run()
                let shuttingDown = state.withLock { s -> Bool in
                    s.machine.started(slot: slot, at: now())
                    s.processes[slot] = process
                    return s.machine.isShuttingDown
                }
                // Shutdown began while it was starting: tell it at once.
                if shuttingDown { kill(process.processIdentifier, SIGTERM) }
                logger.info("worker started", metadata: ["slot": "\(slot)", "pid": "\(process.processIdentifier)"])
            } catch {
                process.terminationHandler = nil
                continuation.resume(returning: "spawn failed: \(error)")
            }
        }
    }

    private func beginShutdown() {
        let pids = state.withLock { s -> [Int32] in
            s.machine.beginShutdown()
            return s.processes.values.filter(\.isRunning).map(\.processIdentifier)
        }
        logger.info("supervisor draining workers", metadata: ["workers": "\(pids.count)"])
        for pid in pids { kill(pid, SIGTERM) }
        // Whatever still runs after the drain deadline is killed.
        let deadline = configuration.drainSeconds + 5
        let logger = self.logger
        Thread.detachNewThread { [self] in
            Thread.sleep(forTimeInterval: deadline)
            let left = self.state.withLock { $0.processes.values.filter(\.isRunning).map(\.processIdentifier) }
            for pid in left {
                logger.error("worker outlived the drain deadline; killing", metadata: ["pid": "\(pid)"])
                kill(pid, SIGKILL)
            }
        }
    }
}
