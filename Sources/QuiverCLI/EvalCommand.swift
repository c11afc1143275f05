import ArgumentParser
import Registry

/// `quiver eval record REF --suite S --metric M --value X [--lower-is-better]`.
public struct EvalCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "eval", abstract: "Record evaluation results.", subcommands: [Record.self])
    public init() {}

    public struct Record: ParsableCommand {
        public static let configuration = CommandConfiguration(commandName: "record", abstract: "Record one evaluation result of a version.")
        @OptionGroup var options: RegistryOptions
        @Option(help: "Evaluation suite.") var suite: String
        @Option(help: "Metric name.") var metric: String
        @Option(help: "Value.") var value: Double
        @Flag(name: .customLong("lower-is-better"), help: "Lower values are better (e.g. loss).") var lowerIsBetter = false
        @Argument(help: "The reference.") var ref: String
        public init() {}

        public func validate() throws {
            _ = try AdapterRef.parse(ref)
            guard !suite.isEmpty, !metric.isEmpty else { throw OptionError("invalid_option", "--suite and --metric must not be empty") }
            guard value.isFinite else { throw OptionError("invalid_option", "--value must be a finite number, got \(value)") }
        }

        public func run() throws {
            let version = try options.service().recordEvaluation(
                try AdapterRef.parse(ref), Evaluation(suite: suite, metric: metric, value: value, higherIsBetter: !lowerIsBetter))
            print("recorded \(suite)/\(metric) = \(value) for \(version.label)")
        }
    }
}
