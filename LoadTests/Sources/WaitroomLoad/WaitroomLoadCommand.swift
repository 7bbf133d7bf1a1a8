import ArgumentParser

/// `waitroom-load`: multi-process load clients (SSE subscribers, queue joins).
///
/// The coordinating subcommands re-execute this binary with hidden `*-worker` subcommands, one per
/// child process, because one process may hold at most ~19k sockets here (hard fd limit 20,000).
@main
struct WaitroomLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waitroom-load",
        abstract: "Load clients for Waitroom (loopback targets only).",
        subcommands: [SSECommand.self, JoinsCommand.self, ReserveCommand.self, OnsaleCommand.self, SSEWorkerCommand.self, OnsaleWorkerCommand.self, JoinsWorkerCommand.self]
    )
}
