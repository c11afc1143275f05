import ArgumentParser
import Registry

extension LineageGraph.Format: ExpressibleByArgument {}

/// `quiver lineage REF`: ancestors (or descendants) as text, JSON, Graphviz, Mermaid or an SVG picture.
public struct LineageCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "lineage", abstract: "Show where a version came from (or, with --down, what was made from it).")

    @OptionGroup var options: RegistryOptions
    @Flag(help: "Walk to descendants instead of ancestors.") var down = false
    @Option(help: "text, json, dot, mermaid or svg (a picture: roots on the left, edges with method and weight).") var format: LineageGraph.Format = .text
    @Argument(help: "The reference.") var ref: String

    public init() {}

    public func validate() throws {
        _ = try AdapterRef.parse(ref)
    }

    public func run() throws {
        let graph = try options.service().lineage(of: try AdapterRef.parse(ref), direction: down ? .descendants : .ancestors)
        print(try graph.render(format))
    }
}
