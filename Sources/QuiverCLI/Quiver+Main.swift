import ArgumentParser

extension Quiver {
    /// The `quiver` executable's entry point. `await Quiver.main()` from top-level code resolves to the synchronous
    /// `ParsableCommand.main()`, which aborts on an async root command ("needs availability annotation") on Linux;
    /// parsing and running here calls the async `run()` of whichever subcommand is chosen.
    public static func runFromCommandLine() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
