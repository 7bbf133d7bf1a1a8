import AdminCLI
import ArgumentParser
import Foundation
import Logging
import WaitroomApp

@main
struct Waitroomd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waitroomd",
        abstract: "Waitroom: a virtual waiting room and ticket reservation server.",
        discussion: "Configured by the WAITROOM_* environment variables (see README).",
        version: "waitroomd \(WaitroomVersion.string)\n\(Allocator.summary)",
        subcommands: [Serve.self, Worker.self, Migrate.self, Demo.self, Check.self, Routes.self, AdminCommand.self]
    )
}

/// Options that override the environment.
struct ServeOptions: ParsableArguments {
    @Option(help: "Address to listen on (WAITROOM_HOST).") var host: String?
    @Option(help: "Port to listen on (WAITROOM_PORT).") var port: Int?
    @Option(help: "Worker processes sharing the port (WAITROOM_PROCESSES).") var processes: Int?
    @Option(help: "What to run: all, edge (API only, no order saga) or saga (order saga, probes only) (WAITROOM_ROLE).")
    var role: String?

    func apply(to c: inout ServerConfiguration) throws {
        if let host { c.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
            c.port = port
        }
        if let processes {
            guard (1...256).contains(processes) else { throw ValidationError("--processes must be in 1...256") }
            c.processes = processes
        }
        if let role {
            guard let parsed = ServerRole(parsing: role) else { throw ValidationError("--role must be all, edge or saga") }
            c.role = parsed
        }
    }
}

func loadConfiguration() throws -> ServerConfiguration {
    do {
        return try ServerConfiguration(environment: ProcessInfo.processInfo.environment,
                                       cores: ProcessInfo.processInfo.activeProcessorCount)
    } catch {
        throw ValidationError("configuration: \(error)")
    }
}

func makeLogger(_ label: String, _ configuration: ServerConfiguration) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = configuration.logLevel
    return logger
}

extension Waitroomd {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the edge: a supervisor and its worker processes on one port (SO_REUSEPORT).")
        @OptionGroup var options: ServeOptions

        func run() async throws {
            var configuration = try loadConfiguration()
            try options.apply(to: &configuration)
            Bootstrap.logging(level: configuration.logLevel, json: configuration.logJSON)
            let logger = makeLogger("waitroom.supervisor", configuration)
            if configuration.signingKeyIsEphemeral {
                logger.warning("WAITROOM_SIGNING_KEY is not set: using a random key for this run; tickets and admission tokens will not survive a restart")
            }
            logger.info("waitroomd \(WaitroomVersion.string); \(Allocator.summary)")
            let executable = URL(fileURLWithPath: CommandLine.executablePath)
            try await SupervisorApp.run(configuration: configuration, executable: executable, logger: logger)
        }
    }

    struct Worker: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One edge worker process (started by `serve`).", shouldDisplay: false)
        @OptionGroup var options: ServeOptions

        func run() async throws {
            var configuration = try loadConfiguration()
            try options.apply(to: &configuration)
            Bootstrap.logging(level: configuration.logLevel, json: configuration.logJSON)
            var logger = makeLogger("waitroom.worker", configuration)
            logger[metadataKey: "worker"] = "\(ProcessInfo.processInfo.environment["WAITROOM_WORKER_INDEX"] ?? "0")"
            try await WorkerApp.run(configuration: configuration, allocator: Allocator.summary, logger: logger)
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")

        func run() async throws {
            let configuration = try loadConfiguration()
            Bootstrap.logging(level: configuration.logLevel, json: configuration.logJSON)
            let logger = makeLogger("waitroom.migrate", configuration)
            let applied = try await MigrateCommand.run(configuration: configuration, logger: logger)
            print(applied.isEmpty ? "migrations: up to date" : "migrations applied: \(applied.joined(separator: ", "))")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the Inventory's invariants (held, sold, capacity, seats); exits 1 if one is broken.")

        @Option(help: "Only this event.") var event: String?

        func run() async throws {
            let configuration = try loadConfiguration()
            Bootstrap.logging(level: configuration.logLevel, json: configuration.logJSON)
            let logger = makeLogger("waitroom.check", configuration)
            let report = try await CheckCommand.run(configuration: configuration, eventID: event, logger: logger)
            print(CheckCommand.render(report))
            if !report.isConsistent { throw ExitCode(1) }
        }
    }

    struct Routes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the route table a worker serves, as JSON: [{\"method\", \"path\"}] (no I/O).")

        func run() async throws {
            let configuration = try loadConfiguration()
            var logger = makeLogger("waitroom.routes", configuration)
            logger.logLevel = .error
            let routes = try await WorkerApp.routeTable(configuration: configuration, logger: logger)
            let objects = routes.map { #"{"method":"\#($0.method)","path":"\#($0.pattern)"}"# }
            print("[" + objects.joined(separator: ",\n ") + "]")
        }
    }

    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or update the demo event `demo`.")

        func run() async throws {
            let configuration = try loadConfiguration()
            Bootstrap.logging(level: configuration.logLevel, json: configuration.logJSON)
            let logger = makeLogger("waitroom.demo", configuration)
            let summary = try await DemoCommand.run(configuration: configuration, logger: logger)
            print(summary)
        }
    }
}

extension CommandLine {
    /// The path of the running executable, to start workers from the same binary.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
