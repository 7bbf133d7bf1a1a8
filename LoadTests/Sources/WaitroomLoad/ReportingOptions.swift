import ArgumentParser

/// How a coordinator reports while it runs, the same for every load command.
struct ReportingOptions: ParsableArguments {
    @Option(help: "Write the running totals here as JSON once a second (for scripts).")
    var statusFile: String?

    @Flag(help: "No progress lines, only the final table.")
    var quiet = false
}
