import Foundation
import Testing
@testable import WaitroomApp

/// The supervisor's clean-up of combiner socket directories left by supervisors killed outright.
@Suite struct CombinerDirectoryTests {
    @Test func findsOnlyThisUsersDirectoriesOfSupervisorsThatAreGone() throws {
        let base = (NSTemporaryDirectory() as NSString).appendingPathComponent("combiner-dirs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let names = [
            "waitroom-combiner-4242-Ab12Cd",   // gone: stale
            "waitroom-combiner-4243-Ef34Gh",   // running
            "waitroom-combiner-Xy56Zw",        // the old naming, no pid: left alone
            "waitroom-combiner-0-Qq00Qq",      // not a pid
            "other-4242-Ab12Cd",               // not ours
        ]
        for name in names {
            try FileManager.default.createDirectory(atPath: (base as NSString).appendingPathComponent(name), withIntermediateDirectories: false)
        }
        // A file with a stale name is not a directory to remove.
        FileManager.default.createFile(atPath: (base as NSString).appendingPathComponent("waitroom-combiner-4244-file"), contents: Data())

        let alive: Set<pid_t> = [4243]
        let stale = Supervisor.staleCombinerDirectories(in: base) { alive.contains($0) }
        #expect(stale == [(base as NSString).appendingPathComponent("waitroom-combiner-4242-Ab12Cd")])
        #expect(Supervisor.staleCombinerDirectories(in: base) { _ in true }.isEmpty)
        #expect(Supervisor.staleCombinerDirectories(in: base + "-missing") { _ in false }.isEmpty)
    }

    @Test func processExistsTellsARunningProcessFromAFinishedOne() throws {
        #expect(Supervisor.processExists(getpid()))
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        #expect(!Supervisor.processExists(child.processIdentifier))
    }
}
