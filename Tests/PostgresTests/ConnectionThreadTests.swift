@testable import Postgres
import Testing
import ThreadSupport

@Suite("Connection threads")
struct ConnectionThreadTests {
    @Test func aConnectionsThreadCarriesItsPoolsNameCutToWhatLinuxKeeps() async throws {
        let thread = ConnectionThread(name: "pg-inventory-batches")
        defer { thread.stop() }
        let name = try await thread.run { ThreadName.current() }
        #if os(Linux)
        #expect(name == "pg-inventory-ba")
        #endif
        let short = ConnectionThread(name: "pg-default")
        defer { short.stop() }
        #if os(Linux)
        #expect(try await short.run { ThreadName.current() } == "pg-default")
        #endif
    }
}
