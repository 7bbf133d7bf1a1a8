import Foundation
import ServiceLifecycle

/// A worker whose supervisor died (reparented to another process) shuts itself down gracefully
/// instead of serving on with nobody to restart it or pass it configuration changes.
struct ParentWatch: Service {
    let parent: Int32 = getppid()

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            if getppid() != parent {
                // Ending this service ends the group, which shuts the worker down in order.
                return
            }
        }
    }
}
