import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Metadata kept beside each cached object.
public struct CacheEntry: Codable, Sendable, Equatable {
    public var url: String
    public var created: Double
    public var bytes: Int
    public var contentType: String?
    public var effectiveUrl: String?

    public init(url: String, created: Double, bytes: Int, contentType: String? = nil, effectiveUrl: String? = nil) {
        self.url = url
        self.created = created
        self.bytes = bytes
        self.contentType = contentType
        self.effectiveUrl = effectiveUrl
    }
}

/// Totals reported by `gg-fetch --cache-stats`.
public struct CacheStats: Codable, Sendable, Equatable {
    public var entries: Int
    public var bytes: Int
    public var oldest: String?
    public var newest: String?
    public var ttlSeconds: Double
    public var dir: String
}

/// A URL-keyed file cache with a time to live. Objects are written to a temporary name
/// and renamed into place, data before metadata, so readers in other processes never see
/// a half-written entry.
public final class URLCache: Sendable {
    public let root: URL
    public let ttl: Double

    public init(root: URL, ttl: Double) {
        self.root = root
        self.ttl = ttl
    }

    public static func defaultRoot() -> URL {
        let environment = ProcessInfo.processInfo.environment
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return URL(fileURLWithPath: xdg).appendingPathComponent("gg") }
        let home = environment["HOME"] ?? NSTemporaryDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/gg")
    }

    var objectsDir: URL { root.appendingPathComponent("objects", isDirectory: true) }
    public var tempDir: URL { root.appendingPathComponent("tmp", isDirectory: true) }

    public static func key(_ url: String) -> String { SHA256.hex(Array(url.utf8)) }

    func dataURL(_ key: String) -> URL { objectsDir.appendingPathComponent(String(key.prefix(2))).appendingPathComponent(key + ".data") }
    func metaURL(_ key: String) -> URL { objectsDir.appendingPathComponent(String(key.prefix(2))).appendingPathComponent(key + ".json") }

    /// A fresh entry for `url`, or nil when missing, expired or incomplete.
    public func lookup(_ url: String, now: Double = Date().timeIntervalSince1970) -> (file: URL, entry: CacheEntry)? {
        let key = URLCache.key(url)
        guard let data = try? Data(contentsOf: metaURL(key)),
              let entry = try? RecordJSON.decoder().decode(CacheEntry.self, from: data),
              entry.url == url, now - entry.created <= ttl else { return nil }
        let file = dataURL(key)
        var info = stat()
        guard stat(file.path, &info) == 0, Int(info.st_size) == entry.bytes else { return nil }
        return (file, entry)
    }

    /// A new private path in the cache's temporary folder, on the same file system as the objects.
    public func temporaryFile() throws -> URL {
        try FileManager.default.createDirectory(at: tempDir, withIntermediateDirectories: true)
        return tempDir.appendingPathComponent("\(getpid())-\(UUID().uuidString).part")
    }

    /// Moves a finished temporary file into the cache and returns its cached path.
    @discardableResult
    public func store(_ url: String, file: URL, entry: CacheEntry) throws -> URL {
        let key = URLCache.key(url)
        let data = dataURL(key)
        try FileManager.default.createDirectory(at: data.deletingLastPathComponent(), withIntermediateDirectories: true)
        guard rename(file.path, data.path) == 0 else { throw GGError("io", "cannot store cache object: \(String(cString: strerror(errno)))") }
        try writeAtomically(RecordJSON.encoder().encode(entry), to: metaURL(key))
        return data
    }

    public func storeData(_ url: String, data: Data, contentType: String? = nil) throws {
        let temp = try temporaryFile()
        try data.write(to: temp)
        try store(url, file: temp, entry: CacheEntry(url: url, created: Date().timeIntervalSince1970, bytes: data.count, contentType: contentType))
    }

    public func lookupData(_ url: String) -> Data? {
        guard let hit = lookup(url) else { return nil }
        return try? Data(contentsOf: hit.file)
    }

    func writeAtomically(_ data: Data, to destination: URL) throws {
        let temp = try temporaryFile()
        try data.write(to: temp)
        guard rename(temp.path, destination.path) == 0 else {
            unlink(temp.path)
            throw GGError("io", "cannot write \(destination.path): \(String(cString: strerror(errno)))")
        }
    }

    private func allEntries() -> [(key: String, entry: CacheEntry?)] {
        guard let shards = try? FileManager.default.contentsOfDirectory(atPath: objectsDir.path) else { return [] }
        var result = [(String, CacheEntry?)]()
        for shard in shards.sorted() {
            let dir = objectsDir.appendingPathComponent(shard)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.sorted() ?? [] where name.hasSuffix(".data") {
                let key = String(name.dropLast(5))
                let entry = (try? Data(contentsOf: metaURL(key))).flatMap { try? RecordJSON.decoder().decode(CacheEntry.self, from: $0) }
                result.append((key, entry))
            }
        }
        return result
    }

    public func stats() -> CacheStats {
        let entries = allEntries()
        let created = entries.compactMap { $0.entry?.created }
        func iso(_ t: Double?) -> String? {
            t.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) }
        }
        var bytes = 0
        for (key, _) in entries {
            var info = stat()
            if stat(dataURL(key).path, &info) == 0 { bytes += Int(info.st_size) }
        }
        return CacheStats(entries: entries.count, bytes: bytes, oldest: iso(created.min()), newest: iso(created.max()), ttlSeconds: ttl, dir: root.path)
    }

    /// Removes entries created more than `age` seconds ago (and stale temporary files); returns how many.
    @discardableResult
    public func prune(olderThan age: Double, now: Double = Date().timeIntervalSince1970) -> Int {
        var removed = 0
        for (key, entry) in allEntries() where (entry?.created ?? 0) < now - age {
            unlink(metaURL(key).path)
            unlink(dataURL(key).path)
            removed += 1
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tempDir.path)) ?? [] {
            let path = tempDir.appendingPathComponent(name).path
            var info = stat()
            if stat(path, &info) == 0, Double(info.st_mtim.tv_sec) < now - max(age, 3600) { unlink(path) }
        }
        return removed
    }

    @discardableResult
    public func clear() -> Int {
        let count = allEntries().count
        try? FileManager.default.removeItem(at: objectsDir)
        try? FileManager.default.removeItem(at: tempDir)
        return count
    }
}

/// Places a file at `destination` atomically: a hard link when possible, otherwise a copy
/// through a temporary name in the destination folder.
public func placeFile(_ source: URL, at destination: URL) throws {
    let dir = destination.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let temp = dir.appendingPathComponent(".\(getpid())-\(UUID().uuidString).tmp")
    if link(source.path, temp.path) != 0 {
        do {
            try FileManager.default.copyItem(at: source, to: temp)
        } catch {
            throw GGError("io", "cannot copy \(source.path): \(error.localizedDescription)")
        }
    }
    guard rename(temp.path, destination.path) == 0 else {
        let message = String(cString: strerror(errno))
        unlink(temp.path)
        throw GGError("io", "cannot place \(destination.path): \(message)")
    }
}
