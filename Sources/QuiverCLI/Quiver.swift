import ArgumentParser
import QuiverCore

/// The root `quiver` command: it only lists the subcommands. Every command is synchronous and runs on the main
/// thread (the registry's database and blob-store calls block); `QuiverProgram` runs them and owns the exit status.
public struct Quiver: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "quiver",
        abstract: "A registry for LoRA adapters: register, merge with enforced compatibility, and audit lineage.",
        version: QuiverVersion.current,
        subcommands: [
            RegisterCommand.self, ListCommand.self, ShowCommand.self, PullCommand.self, MergeCommand.self,
            LineageCommand.self, AuditCommand.self, VerifyCommand.self, FsckCommand.self, AliasCommand.self, EvalCommand.self,
            PolicyCommand.self, GCCommand.self, WorkerCommand.self, JobCommand.self, DemoCommand.self,
            DBCommand.self, BlobCommand.self, InspectCommand.self, MergeFilesCommand.self, CheckCommand.self,
            ServeCommand.self, TokenCommand.self, PublishCommand.self, AttestCommand.self, KeyCommand.self, HookCommand.self,
        ]
    )

    public init() {}
}
