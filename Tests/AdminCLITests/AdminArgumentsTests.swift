import ArgumentParser
import Foundation
import Testing
import WaitroomApp
@testable import AdminCLI

@Suite("Command line of `waitroomd admin`") struct AdminArgumentsTests {
    private func parse<T>(_ arguments: [String], as type: T.Type) throws -> T? {
        try AdminCommand.parseAsRoot(arguments) as? T
    }

    @Test func settingsBecomePatches() throws {
        let rate = try #require(try parse(["rate", "demo", "12.5", "--server", "http://127.0.0.1:9"], as: AdminCommand.Rate.self))
        #expect(rate.event == "demo" && rate.patch == AdmissionPatch(ratePerSecond: 12.5))
        #expect(rate.options.server == "http://127.0.0.1:9")
        #expect(try parse(["max-active", "demo", "300"], as: AdminCommand.MaxActive.self)?.patch == AdmissionPatch(maxActive: 300))
        let several = try parse(["admission", "demo", "--rate", "3", "--session-seconds", "120"], as: AdminCommand.Admission.self)
        #expect(several?.patch == AdmissionPatch(ratePerSecond: 3, sessionSeconds: 120))
        #expect(try parse(["pause", "demo"], as: AdminCommand.Pause.self)?.event == "demo")
        #expect(try parse(["resume", "demo"], as: AdminCommand.Resume.self)?.event == "demo")
    }

    @Test func theServersRangesAreUsageErrors() {
        for arguments in [["rate", "demo", "0"], ["rate", "demo", "nan"], ["max-active", "demo", "0"],
                          ["admission", "demo"], ["admission", "demo", "--session-seconds", "5"],
                          ["pause", "no spaces"], ["stats", "demo", "--interval", "0.1"], ["rate", "demo", "5", "--timeout", "0"]] {
            do {
                _ = try AdminCommand.parseAsRoot(arguments)
                Issue.record("\(arguments) parsed")
            } catch {
                #expect(AdminCommand.exitCode(for: error) == .validationFailure, "\(arguments)")
            }
        }
    }

    @Test func theTokenIsNeverAnOption() {
        #expect(throws: (any Error).self) { try AdminCommand.parseAsRoot(["stats", "demo", "--token", "secret"]) }
        #expect(!AdminCommand.helpMessage(for: AdminCommand.Stats.self).contains("--token "))
    }

    @Test func statsAndEventFlags() throws {
        let stats = try #require(try parse(["stats", "demo", "--watch", "--interval", "2", "--json"], as: AdminCommand.Stats.self))
        #expect(stats.watch && stats.json && stats.interval == 2)
        let once = try #require(try parse(["stats", "demo"], as: AdminCommand.Stats.self))
        #expect(!once.watch && once.interval == 1)
        let apply = try #require(try parse(["event", "apply", "-f", "e.yaml", "--event", "e1", "--token-file", "/t"],
                                           as: AdminCommand.Event.Apply.self))
        #expect(apply.file == "e.yaml" && apply.event == "e1" && apply.options.tokenFile == "/t" && !apply.dryRun)
        #expect(try parse(["event", "get", "demo", "--format", "json"], as: AdminCommand.Event.Get.self)?.format == .json)
        #expect(throws: (any Error).self) { try AdminCommand.parseAsRoot(["event", "apply", "--event", "e1"]) }
    }
}

@Suite("Server and token from the environment") struct AdminTargetTests {
    @Test func serverFromTheOptionElseTheEnvironmentElseLocal() throws {
        let env = ["WAITROOM_ADMIN_TOKEN": "t0ken"]
        #expect(try AdminTarget.resolve(server: nil, tokenFile: nil, environment: env) == AdminTarget(server: "http://127.0.0.1:8080", token: "t0ken"))
        #expect(try AdminTarget.resolve(server: nil, tokenFile: nil, environment: env.merging(["WAITROOM_ADMIN_URL": "http://10.0.0.1:80/"]) { $1 }).server
                == "http://10.0.0.1:80")
        #expect(try AdminTarget.resolve(server: "http://h:9", tokenFile: nil, environment: env.merging(["WAITROOM_ADMIN_URL": "http://x:1"]) { $1 }).server
                == "http://h:9")
        for bad in ["https://h:443", "h:80", "http://h:80/v1", "http://:80", "http://h:99999"] {
            #expect(throws: AdminError.self, "\(bad)") { try AdminTarget.resolve(server: bad, tokenFile: nil, environment: env) }
        }
    }

    @Test func noTokenIsAClearError() {
        do {
            _ = try AdminTarget.resolve(server: nil, tokenFile: nil, environment: ["WAITROOM_ADMIN_TOKEN": "  "])
            Issue.record("resolved without a token")
        } catch {
            #expect(error.code == .noToken && error.exitCode == 4)
            #expect(error.message.hasPrefix("no admin token: set WAITROOM_ADMIN_TOKEN"))
        }
    }

    @Test func tokenFileIsReadAndTrimmed() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
        try "s3cret-token\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try AdminTarget.resolve(server: nil, tokenFile: path, environment: ["WAITROOM_ADMIN_TOKEN": "other"]).token == "s3cret-token")
        try "\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: AdminError(.noToken, "the token file '\(path)' is empty")) {
            try AdminTarget.resolve(server: nil, tokenFile: path, environment: [:])
        }
    }
}
