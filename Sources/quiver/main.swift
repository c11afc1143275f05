import QuiverCLI

await Quiver.runFromCommandLine()
