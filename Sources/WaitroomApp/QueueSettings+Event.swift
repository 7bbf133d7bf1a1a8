import Inventory
import Waitroom

extension QueueSettings {
    /// The queue settings of an event as ops defined it.
    init(_ event: EventDefinition, paused: Bool, abandonAfterSeconds: Int) {
        self.init(ratePerSecond: event.admission.ratePerSecond, maxActive: event.admission.maxActive,
                  sessionSeconds: event.admission.sessionSeconds, paused: paused,
                  abandonAfterSeconds: abandonAfterSeconds,
                  opensAtMilliseconds: event.opensAt.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0)
    }
}
