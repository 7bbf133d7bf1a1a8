// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Waitroom",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "waitroomd", targets: ["waitroomd"]),
        .executable(name: "waitroom-load", targets: ["WaitroomLoad"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
    ],
    targets: [
        // System libraries: one shim header each, no logic.
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis"),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CJemalloc", path: "Sources/CJemalloc"),
        // Batched socket sends through io_uring (raw system calls, the kernel's own header).
        .target(name: "CSendRing"),
        // Passing a connection's socket to another worker process (SCM_RIGHTS).
        .target(name: "CFDPass"),
        // The threads of their own that libpq and the hand-off socket need: a self-pipe to wake
        // one from `poll`, and its name as the kernel shows it.
        .target(name: "ThreadSupport"),

        // Thin, safe Swift layers: the only importers of the C modules.
        .target(name: "Redis", dependencies: [
            "CHiredis",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "Postgres", dependencies: [
            "CLibPQ", "ThreadSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "Tokens", dependencies: ["COpenSSL"]),
        // A small JSON reader for the hot paths (request bodies, the inventory batch reply).
        .target(name: "FastJSON"),

        // Domain: no HTTP.
        .target(name: "Waitroom", dependencies: [
            "Redis", "Tokens",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .target(name: "Inventory", dependencies: [
            "Postgres", "Tokens", "FastJSON",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        .target(name: "Orders", dependencies: [
            "Postgres", "Tokens",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // HTTP/SSE server library.
        .target(name: "Edge", dependencies: [
            "Waitroom", "Inventory", "Tokens", "FastJSON", "CSendRing", "CFDPass", "ThreadSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "HeapModule", package: "swift-collections"),
        ]),

        // Assembly of a server process: configuration, supervisor, ServiceGroup wiring.
        .target(name: "WaitroomApp", dependencies: [
            "Orders",
            "Edge", "Waitroom", "Inventory", "Redis", "Postgres", "Tokens", "FastJSON",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], resources: [
            // The API's OpenAPI document, compiled in and served at GET /v1/openapi.yaml.
            .embedInCode("Resources/openapi.yaml"),
        ]),

        // `waitroomd admin …`: the ops CLI over the admin HTTP API (event files, admission, live stats).
        .target(name: "AdminCLI", dependencies: [
            "WaitroomApp", "Inventory", "Orders",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // The server binary: the CLI. Its allocator is jemalloc.
        .executableTarget(name: "waitroomd", dependencies: [
            "WaitroomApp", "AdminCLI", "Edge", "Waitroom", "Inventory", "Redis", "Postgres", "Tokens", "CJemalloc",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),

        // Load generators and benchmarks; not part of `swift test`.
        .target(name: "LoadKit", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], path: "LoadTests/Sources/LoadKit"),
        .executableTarget(name: "WaitroomLoad", dependencies: [
            "LoadKit",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ], path: "LoadTests/Sources/WaitroomLoad"),
        .testTarget(name: "LoadKitTests", dependencies: ["LoadKit"], path: "LoadTests/Tests/LoadKitTests"),

        .testTarget(name: "RedisTests", dependencies: [
            "Redis",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "PostgresTestSupport", dependencies: [
            "Postgres", .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/PostgresTestSupport"),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "PostgresTestSupport", "ThreadSupport"]),
        .testTarget(name: "InventoryTests", dependencies: ["Inventory", "Postgres", "PostgresTestSupport"]),
        .testTarget(name: "OrdersTests", dependencies: ["Orders", "Inventory", "Postgres", "PostgresTestSupport"]),
        .testTarget(name: "TokensTests", dependencies: ["Tokens"]),
        .testTarget(name: "WaitroomTests", dependencies: ["Waitroom", "Redis", "Tokens", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "WaitroomAppTests", dependencies: [
            "WaitroomApp", "Edge", "Inventory", "Postgres", "Tokens", "PostgresTestSupport",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "AdminCLITests", dependencies: [
            "AdminCLI", "WaitroomApp", "Edge", "Inventory", "Postgres", "PostgresTestSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "EdgeTests", dependencies: [
            "Edge", "Redis", "Postgres",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "FastJSONTests", dependencies: ["FastJSON"]),
    ],
    swiftLanguageModes: [.v6]
)
