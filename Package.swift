// swift-tools-version:6.0
import PackageDescription

/// Settings shared by every Swift target: Swift 6 mode with strict concurrency, no implicit Foundation leaks.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Quiver",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "quiver", targets: ["quiver"]),
    ],
    // Exact versions, so every build compiles the same code without a committed Package.resolved. (swift-crypto
    // also declares swift-asn1, resolved within its range, but only its _CryptoExtras uses it; Quiver builds none.)
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        // The HTTP server (`quiver serve`): Hummingbird 2 on SwiftNIO, logs, metrics in Prometheus form, and
        // graceful shutdown.
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", exact: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", exact: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
    ],
    targets: [
        // C libraries, reached through pkg-config (see scripts/bootstrap.sh for the apt packages).
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .systemLibrary(name: "CLinearAlgebra", providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        // SHA-256 block compression with the x86 SHA extensions, two streams interleaved (SHA256Pair).
        .target(name: "CSHA256", cSettings: [.unsafeFlags(["-O3"])]),
        // sync_file_range(2): start a file's writeback early (FileWriteback).
        .target(name: "CFileSync"),
        .target(name: "CAllocator"),
        // Merge kernels with AVX-512 forms chosen at run time (DARE's mask, the elementwise combination), exact against
        // the scalar form (no fused multiply-add).
        .target(name: "CMergeKernels", cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]),

        // Pure Swift leaves: no network, no database.
        .target(name: "QuiverCore", dependencies: ["CSHA256", "CFileSync", "CAllocator", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        .target(name: "SafeTensors", dependencies: ["QuiverCore"], swiftSettings: swiftSettings),
        .target(name: "LoRA", dependencies: ["SafeTensors", "QuiverCore"], swiftSettings: swiftSettings),
        .target(name: "Merge", dependencies: ["LoRA", "SafeTensors", "QuiverCore", "CLinearAlgebra", "CMergeKernels"], swiftSettings: swiftSettings),
        // Signed provenance: DSSE envelopes, in-toto statements, ECDSA P-256 keys, OpenSSF model-signing bundles.
        .target(name: "Provenance", dependencies: ["QuiverCore", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),

        // Side effects: the database and the blob store.
        .target(name: "Postgres", dependencies: ["CLibPQ", "QuiverCore"], swiftSettings: swiftSettings),
        .target(name: "ObjectStore", dependencies: ["CCurl", "QuiverCore", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        .target(name: "Catalog", dependencies: ["Postgres", "QuiverCore"], swiftSettings: swiftSettings),
        .target(name: "Registry", dependencies: ["Catalog", "ObjectStore", "Merge", "LoRA", "Provenance", "QuiverCore"], swiftSettings: swiftSettings),

        // The HTTP API over the same use cases: authentication, authorisation, parsing, mapping; no use-case logic.
        .target(
            name: "QuiverServer",
            dependencies: [
                "Registry", "ObjectStore", "SafeTensors", "Provenance", "QuiverCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The remote side of the CLI: the same use cases over the HTTP API (libcurl through ObjectStore's transfer
        // layer), with progress reporting.
        .target(name: "QuiverClient", dependencies: ["Registry", "ObjectStore", "LoRA", "Merge", "Provenance", "QuiverCore"], swiftSettings: swiftSettings),

        // The command line: a library of commands (testable) and a thin executable.
        .target(
            name: "QuiverCLI",
            dependencies: [
                "QuiverServer", "QuiverClient", "Registry", "Catalog", "ObjectStore", "Merge", "LoRA", "SafeTensors", "Postgres", "Provenance", "QuiverCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "quiver", dependencies: ["QuiverCLI"], swiftSettings: swiftSettings),
        // Merge benchmark on 7B-shaped adapters (bench/run-quiver.sh) and the registry's audit benchmark; not part of the tests.
        .executableTarget(
            name: "QuiverBench",
            dependencies: ["Merge", "LoRA", "SafeTensors", "Registry", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),

        // Test support shared by the suites: fixtures and the real servers started by scripts/services.sh.
        .target(name: "QuiverTesting", dependencies: ["QuiverCore"], swiftSettings: swiftSettings),

        .testTarget(name: "QuiverCoreTests", dependencies: ["QuiverCore", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "LoRATests", dependencies: ["LoRA", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "ProvenanceTests", dependencies: ["Provenance", "QuiverCore", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "MergeTests", dependencies: ["Merge", "LoRA", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "Postgres", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "QuiverCLI", "Provenance", "QuiverTesting"], swiftSettings: swiftSettings),
        // `quiver serve` as a process, driven over real HTTP; and the server's pure parts.
        // The client's pure parts (settings, errors, progress lines), and the CLI in remote mode against a real
        // `quiver serve` process.
        .testTarget(name: "ClientTests", dependencies: ["QuiverClient", "Registry", "ObjectStore", "Provenance", "QuiverTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "ServerTests", dependencies: ["QuiverServer", "Registry", "Provenance", "Postgres", "QuiverTesting"], swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)

// Fuzzing (scripts/fuzz.sh): a libFuzzer executable, declared only when QUIVER_FUZZ=1 because it must be built
// with `-sanitize=fuzzer` and has no `main` of its own.
if Context.environment["QUIVER_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "QuiverFuzz",
            dependencies: ["SafeTensors", "LoRA"],
            swiftSettings: swiftSettings + [.unsafeFlags(["-parse-as-library"])]
        )
    )
}
