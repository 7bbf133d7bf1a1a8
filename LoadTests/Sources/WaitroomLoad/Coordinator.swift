import Foundation
import Histogram
import LoadKit
import NIOCore
import NIOPosix

/// Runs a multi-process load: spawns the workers (this executable, a hidden `*-worker`
/// subcommand each), gathers their JSON report lines, prints progress once a second and writes
/// an optional status file (JSON, replaced atomically) for scripts.
struct Coordinator {
    /// What a finished run measured.
    struct Outcome {
        var last: AggregateSnapshot
        var peakOpen: Int
        var latency: Histogram<UInt64>
        /// Events per second from the moment every connection had been attempted to the end.
        var steadyEventsPerSecond: Double
        var elapsed: Double
        /// The sum of the on-sale workers' final stats (empty for other runs).
        var onsale: OnsaleStats
    }

    /// Status file content.
    struct Status: Codable {
        var snapshot: AggregateSnapshot
        var peakOpen: Int
        var done: Bool
        var p50Micros: UInt64?
        var p99Micros: UInt64?
        var maxMicros: UInt64?
        /// The same over each stream's third and later updates (after the opening bursts).
        var steadyP50Micros: UInt64?
        var steadyP99Micros: UInt64?
        var steadyMaxMicros: UInt64?
        var steadySamples: Int64?
    }

    var workers: Int
    /// The arguments of worker `i` (its subcommand first).
    var workerArguments: (Int) -> [String]
    /// Give up on workers that have not finished after this many seconds.
    var maxDuration: Double
    var statusFile: String?
    var quiet: Bool
    /// Called once a second with the totals (after the progress line was made); a text it returns
    /// is printed as the progress line instead.
    var everySecond: ((AggregateSnapshot, OnsaleStats) async -> String?)? = nil

    func run(progress: (AggregateSnapshot, Int) -> String) async throws -> Outcome {
        let executable = try ChildProcess.currentExecutable()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = CoordinatorState()
        var children: [ChildProcess] = []
        defer {
            // Only our own children, by pid; they normally exited already.
            for child in children where child.reap() == nil { child.terminate() }
        }
        for i in 0..<self.workers {
            let child = try ChildProcess.spawn(executable: executable, arguments: self.workerArguments(i))
            children.append(child)
            _ = try await NIOPipeBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ChildOutputHandler(state: state))
                    }
                }
                .takingOwnershipOfDescriptor(input: child.stdoutReadFD).get()
        }

        let start = WallClock.monotonicSeconds()
        var peakOpen = 0
        var rampDone: (elapsed: Double, events: UInt64)?
        var last: AggregateSnapshot
        while true {
            try await Task.sleep(for: .seconds(1))
            let elapsed = WallClock.monotonicSeconds() - start
            let (snapshot, allDone) = state.snapshot(elapsed: elapsed, workers: self.workers)
            last = snapshot
            peakOpen = max(peakOpen, snapshot.open)
            if rampDone == nil, snapshot.target > 0, snapshot.attempted >= UInt64(snapshot.target), snapshot.workersReporting == self.workers {
                rampDone = (elapsed, snapshot.events)
            }
            var line = progress(snapshot, peakOpen)
            if let everySecond = self.everySecond { line = await everySecond(snapshot, state.onsale()) ?? line }
            if !self.quiet {
                print(line)
                fflush(nil)  // all streams: progress must show when stdout is a pipe
            }
            self.writeStatus(Status(snapshot: snapshot, peakOpen: peakOpen, done: false))
            if allDone || elapsed > self.maxDuration + 30 { break }
        }
        // Reap: the children exit right after their final report.
        for _ in 0..<100 where children.contains(where: { $0.reap() == nil }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let latency = state.latency()
        let end = last.elapsed
        var steady = 0.0
        if let rampDone, end > rampDone.elapsed {
            steady = Double(last.events - rampDone.events) / (end - rampDone.elapsed)
        }
        let hasLatency = latency.totalCount > 0
        let steadyLatency = state.steadyLatency()
        let hasSteady = steadyLatency.totalCount > 0
        self.writeStatus(Status(
            snapshot: last, peakOpen: peakOpen, done: true,
            p50Micros: hasLatency ? latency.valueAtPercentile(50) : nil,
            p99Micros: hasLatency ? latency.valueAtPercentile(99) : nil,
            maxMicros: hasLatency ? latency.max : nil,
            steadyP50Micros: hasSteady ? steadyLatency.valueAtPercentile(50) : nil,
            steadyP99Micros: hasSteady ? steadyLatency.valueAtPercentile(99) : nil,
            steadyMaxMicros: hasSteady ? steadyLatency.max : nil,
            steadySamples: hasSteady ? Int64(steadyLatency.totalCount) : nil))
        try? await group.shutdownGracefully()
        return Outcome(last: last, peakOpen: peakOpen, latency: latency, steadyEventsPerSecond: steady, elapsed: end,
                       onsale: state.onsale())
    }

    private func writeStatus(_ status: Status) {
        guard let path = self.statusFile, let data = try? JSONEncoder().encode(status) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
