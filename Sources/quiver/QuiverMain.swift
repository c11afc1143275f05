import QuiverCLI

/// The executable: everything, including the exit status of every outcome, is decided by `QuiverProgram`.
@main
enum QuiverMain {
    static func main() {
        QuiverProgram.main()
    }
}
