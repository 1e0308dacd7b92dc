// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mreg",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mreg", targets: ["mreg"]),
        .library(name: "MregGit", targets: ["MregGit"]),
        .library(name: "MregCore", targets: ["MregCore"]),
        .library(name: "MregML", targets: ["MregML"]),
        .library(name: "MregRegistry", targets: ["MregRegistry"]),
        .library(name: "MregReconciler", targets: ["MregReconciler"]),
        .library(name: "MregUI", targets: ["MregUI"]),
        .library(name: "MregStore", targets: ["MregStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        // zlib (Debian zlib1g-dev), only to check loose objects that libgit2 1.5 would loop on.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "MregGit", dependencies: ["CGit2", "CZlib"]),
        .target(name: "MregCore", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "MregML", dependencies: ["MregCore"]),
        // Kubernetes objects (KServe InferenceServices, Deployments) from a manifest: pure, no I/O.
        .target(name: "MregKubernetes", dependencies: ["MregCore"]),
        .target(name: "MregTemplates", path: "templates", exclude: ["README.md"], resources: [.copy("files")]),
        .target(name: "MregRegistry", dependencies: ["MregGit", "MregCore", "MregML", "MregKubernetes", "MregStore", "MregTemplates"]),
        // libcrypto (Debian libssl-dev) for SSH signature checks (MregReconciler) and S3 request
        // signing and content hashing (MregStore).
        .target(name: "CCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        // The artifact store: content-addressed objects in a folder or an S3-compatible service.
        .target(
            name: "MregStore",
            dependencies: [
                "MregCore", "CCrypto", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .target(
            name: "MregReconciler",
            dependencies: ["MregRegistry", "MregGit", "MregCore", "CCrypto", .product(name: "Hummingbird", package: "hummingbird")]),
        .target(name: "MregServer", dependencies: ["MregCore", "MregML", .product(name: "Hummingbird", package: "hummingbird")]),
        // `mreg ui`: the registry as web pages; host statuses through MregReconciler's FleetStatus.
        .target(
            name: "MregUI",
            dependencies: ["MregRegistry", "MregCore", "MregML", "MregGit", "MregReconciler", .product(name: "Hummingbird", package: "hummingbird")]),
        .executableTarget(
            name: "mreg",
            dependencies: [
                "MregRegistry", "MregML", "MregServer", "MregReconciler", "MregUI", "MregStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "mreg-ml-bench", dependencies: ["MregML", "MregCore"]),
        .target(name: "MregTestSupport", dependencies: ["MregCore"], path: "Tests/MregTestSupport"),
        .testTarget(name: "MregGitTests", dependencies: ["MregGit", "MregTestSupport"]),
        .testTarget(name: "MregCoreTests", dependencies: ["MregCore"]),
        .testTarget(name: "MregMLTests", dependencies: ["MregML", "MregCore", "MregTestSupport"]),
        .testTarget(name: "MregRegistryTests", dependencies: ["MregRegistry", "MregTestSupport"]),
        .testTarget(name: "MregServerTests", dependencies: ["MregServer", "MregML", "MregTestSupport"]),
        .testTarget(
            name: "MregReconcilerTests",
            dependencies: ["MregReconciler", "MregRegistry", "MregML", "MregGit", "MregCore", "MregTestSupport"]),
        .testTarget(name: "MregKubernetesTests", dependencies: ["MregKubernetes", "MregCore", "MregTestSupport"]),
        .testTarget(name: "MregUITests", dependencies: ["MregUI", "MregCore", "MregTestSupport"]),
        .testTarget(name: "MregStoreTests", dependencies: ["MregStore", "MregCore", "MregTestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MregCore", "MregGit", "MregTestSupport"]),
    ]
)
