import QuiverCLI

await Quiver.runMain()
