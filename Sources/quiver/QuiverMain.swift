import QuiverCLI

// `@main` on the root command, as argument-parser documents for async commands: a top-level `await Quiver.main()`
// resolves to ParsableCommand's synchronous main, which refuses to run an async root command.
@main
extension Quiver {}
