// swift-tools-version:6.0
import Foundation
import PackageDescription

/// `GG_WITHOUT_WHISPER=1 swift build` builds gg-transcribe with the sphinx engine only. Otherwise the build needs
/// whisper.cpp's headers, which scripts/setup-whisper puts in .whisper/include, and stops with an error without them.
let withoutWhisper = ProcessInfo.processInfo.environment["GG_WITHOUT_WHISPER"] == "1"

let package = Package(
    name: "gg",
    products: [
        .executable(name: "gg-fetch", targets: ["gg-fetch"]),
        .executable(name: "gg-scenes", targets: ["gg-scenes"]),
        .executable(name: "gg-ocr", targets: ["gg-ocr"]),
        .executable(name: "gg-transcribe", targets: ["gg-transcribe"]),
        .executable(name: "gg-assemble", targets: ["gg-assemble"]),
        .executable(name: "gg-serve", targets: ["gg-serve"]),
        .library(name: "GGShared", targets: ["GGShared"]),
    ],
    targets: [
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat libavcodec libavutil libswscale libswresample",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libswresample-dev"])]),
        .systemLibrary(name: "CTesseract", pkgConfig: "tesseract lept", providers: [.apt(["libtesseract-dev", "libleptonica-dev"])]),
        .systemLibrary(name: "CPocketSphinx", pkgConfig: "pocketsphinx sphinxbase",
                       providers: [.apt(["libpocketsphinx-dev", "libsphinxbase-dev"])]),
        .target(name: "CWhisper", cSettings: [.headerSearchPath("../../.whisper/include")] + (withoutWhisper ? [.define("GG_WITHOUT_WHISPER")] : []),
                linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "CProcess"),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .target(name: "GGShared", dependencies: ["CProcess"]),
        .target(name: "GGMedia", dependencies: ["GGShared", "CFFmpeg"]),
        .target(name: "GGFetch", dependencies: ["GGShared", "GGMedia", "CCurl", "CFFmpeg"]),
        .target(name: "GGScenes", dependencies: ["GGShared", "GGMedia", "CFFmpeg"]),
        .target(name: "GGOCR", dependencies: ["GGShared", "CTesseract"]),
        .target(name: "GGTranscribe", dependencies: ["GGShared", "GGMedia", "CFFmpeg", "CPocketSphinx", "CWhisper"]),
        .target(name: "GGAssemble", dependencies: ["GGShared"]),
        .target(name: "GGServe", dependencies: ["GGShared", "CMicroHTTPD"]),
        .executableTarget(name: "gg-fetch", dependencies: ["GGFetch"]),
        .executableTarget(name: "gg-scenes", dependencies: ["GGScenes"]),
        .executableTarget(name: "gg-ocr", dependencies: ["GGOCR"]),
        .executableTarget(name: "gg-transcribe", dependencies: ["GGTranscribe"]),
        .executableTarget(name: "gg-assemble", dependencies: ["GGAssemble"]),
        .executableTarget(name: "gg-serve", dependencies: ["GGServe"]),
        .testTarget(name: "GGSharedTests", dependencies: ["GGShared"]),
        .testTarget(name: "EngineTests", dependencies: ["GGFetch", "GGScenes", "GGOCR", "GGTranscribe", "GGAssemble", "GGServe"]),
        .testTarget(name: "EndToEndTests", dependencies: ["GGShared"]),
    ]
)
