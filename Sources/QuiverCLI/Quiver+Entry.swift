import ArgumentParser

extension Quiver {
    /// The executable's entry point. Top-level `await Quiver.main()` resolved to the synchronous
    /// `ParsableCommand.main()`, which refuses async root commands at run time; inside an async function the
    /// async overload is chosen.
    public static func runMain() async {
        await main()
    }
}
