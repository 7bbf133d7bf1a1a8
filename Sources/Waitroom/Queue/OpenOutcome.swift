/// The outcome of ``QueueStore/open(event:leaseID:)``.
public enum OpenOutcome: Sendable, Hashable {
    /// The lottery was drawn: `cohort` places got their orders; `seed` is now public.
    case opened(cohort: Int, seed: String)
    /// The line was open already.
    case alreadyOpen
    /// The lease is not held by the caller.
    case fenced
}
