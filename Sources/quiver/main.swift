import QuiverCLI

await Quiver.main()
