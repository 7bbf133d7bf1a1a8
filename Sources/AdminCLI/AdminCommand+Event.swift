import ArgumentParser
import Foundation
import Inventory
import WaitroomApp

extension AdminCommand {
    struct Event: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create, update or read an event definition.", subcommands: [Apply.self, Get.self])
    }
}

extension AdminCommand.Event {
    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update an event from a YAML or JSON file.",
            discussion: "The file is the body of PUT /v1/admin/events/{id} with an optional `id`; see deploy/events/demo.yaml.")
        @OptionGroup var options: AdminOptions
        @Option(name: [.short, .long], help: ArgumentHelp("The event file (.yaml, .yml or .json; - for standard input).",
                                                         valueName: "path"))
        var file: String
        @Option(help: "The event id (else the file's `id`).") var event: String?
        @Flag(help: "Check the file and print the request; send nothing.") var dryRun = false
        @Flag(help: "Print the server's answer as JSON.") var json = false

        func validate() throws { if let event { try AdminCommand.check(event: event) } }

        func run() async throws {
            try await AdminCommand.perform {
                let file = try EventFile.load(path: file, eventID: event)
                if dryRun {
                    print("PUT /v1/admin/events/\(file.eventID)")
                    print(try AdminText.json(file.body))
                    return
                }
                let applied = try await options.client().apply(eventID: file.eventID, file.body)
                print(json ? try AdminText.json(applied.event) : AdminText.applied(applied))
            }
        }
    }

    struct Get: AsyncParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable { case yaml, json }

        static let configuration = CommandConfiguration(
            abstract: "Print an event as the server has it, as a file that `event apply` takes.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "The event id.") var event: String
        @Option(help: "yaml or json.") var format: Format = .yaml

        func validate() throws { try AdminCommand.check(event: event) }

        func run() async throws {
            try await AdminCommand.perform {
                let definition = try await options.client().event(event)
                switch format {
                case .yaml: print(try EventFile.yaml(definition), terminator: "")
                case .json: print(try AdminText.json(definition))
                }
            }
        }
    }
}
