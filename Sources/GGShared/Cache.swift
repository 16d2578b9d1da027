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

    public init(url: String, created: Double, bytes: Int, contentType: String? = nil) {
        self.url = url
        self.created = created
        self.bytes = bytes
        self.contentType = contentType
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
    /// The byte limit (--cache-max-bytes), when there is one.
    public var maxBytes: Int?
    /// Free bytes on the cache's file system.
    public var freeBytes: Int?
    /// The resolved-page cache beside the media cache: its entries and bytes.
    public var resolvedEntries: Int?
    public var resolvedBytes: Int?
    /// The result cache (`--result-cache`), when one is named: its entries and bytes.
    public var resultEntries: Int?
    public var resultBytes: Int?
}

/// A URL-keyed file cache with a time to live. Objects are written to a temporary name
/// and renamed into place, data before metadata, so readers in other processes never see
/// a half-written entry. Folders are 0700 and files 0600; the key is the hash of the whole URL, but the
/// stored metadata has its credentials redacted. An entry dated in the future counts as expired.
public final class MediaCache: Sendable {
    public let root: URL
    public let ttl: Double
    /// The most bytes of objects the cache keeps; storing past it evicts the least recently used entries.
    public let maxBytes: Int?

    public init(root: URL, ttl: Double, maxBytes: Int? = nil) {
        self.root = root
        self.ttl = ttl
        self.maxBytes = maxBytes
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

    /// Whether an entry made at `created` is still fresh at `now`: not older than the TTL, not from the future.
    func isFresh(_ created: Double, now: Double, ttl: Double) -> Bool {
        now - created <= ttl && created <= now + 60
    }

    /// A fresh entry for `url`, or nil when missing, expired or incomplete.
    public func lookup(_ url: String, now: Double = Date().timeIntervalSince1970) -> (file: URL, entry: CacheEntry)? {
        let key = MediaCache.key(url)
        guard let data = try? Data(contentsOf: metaURL(key)),
              let entry = try? RecordJSON.decoder().decode(CacheEntry.self, from: data),
              entry.url == Secrets.redact(url), isFresh(entry.created, now: now, ttl: ttl) else { return nil }
        let file = dataURL(key)
        var info = stat()
        guard stat(file.path, &info) == 0, Int(info.st_size) == entry.bytes else { return nil }
        utimes(metaURL(key).path, nil)
        return (file, entry)
    }

    /// Creates `dir` (and the cache root) as private folders.
    func makePrivateFolder(_ dir: URL) throws {
        for folder in [root, dir] {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw GGError("io", "cannot create the cache folder \(folder.path): \(error.localizedDescription)")
            }
        }
        chmod(root.path, 0o700)
    }

    /// A new private (0600) file in the cache's temporary folder, on the same file system as the objects.
    /// A download keeps writing it (and so refreshing its time) until it is renamed into place, which is
    /// how `clear` and `prune` tell it from a leftover.
    public func temporaryFile() throws -> URL {
        try makePrivateFolder(tempDir)
        let file = tempDir.appendingPathComponent("\(getpid())-\(UUID().uuidString).part")
        _ = try FileDescriptor.open(file.path, O_WRONLY | O_CREAT | O_EXCL)
        return file
    }

    /// A new private (0700) folder in the cache's temporary folder, for a tool that writes several files
    /// (yt-dlp's formats before it merges them); removed like a stale temporary file.
    public func temporaryFolder() throws -> URL {
        try makePrivateFolder(tempDir)
        let folder = tempDir.appendingPathComponent("\(getpid())-\(UUID().uuidString).d")
        guard mkdir(folder.path, 0o700) == 0 else { throw GGError("io", "cannot create \(folder.path): \(String(cString: strerror(errno)))") }
        return folder
    }

    /// Moves a finished temporary file into the cache and returns its cached path.
    @discardableResult
    public func store(_ url: String, file: URL, entry: CacheEntry) throws -> URL {
        let key = MediaCache.key(url)
        let data = dataURL(key)
        var stored = false
        for _ in 0..<3 where !stored {
            try makePrivateFolder(objectsDir)
            try makePrivateFolder(data.deletingLastPathComponent())
            stored = rename(file.path, data.path) == 0
            if !stored && errno != ENOENT { break }
        }
        guard stored else { throw GGError("io", "cannot store cache object: \(String(cString: strerror(errno)))") }
        chmod(data.path, 0o600)
        try writeAtomically(RecordJSON.encoder().encode(entry), to: metaURL(key))
        if let maxBytes { trim(to: maxBytes, keeping: key) }
        return data
    }

    /// Evicts the least recently used entries (by their metadata's time, which a lookup touches) until the
    /// objects take at most `limit` bytes; `keeping` is never evicted. Returns what it removed.
    @discardableResult
    public func trim(to limit: Int, keeping: String? = nil) -> Removal {
        var entries = allEntries().map { entry -> (key: String, used: Double, bytes: Int) in
            var data = stat(), meta = stat()
            let bytes = stat(dataURL(entry.key).path, &data) == 0 ? Int(data.st_size) : 0
            let used = stat(metaURL(entry.key).path, &meta) == 0 ? Double(meta.st_mtim.tv_sec) + Double(meta.st_mtim.tv_nsec) / 1e9 : 0
            return (entry.key, used, bytes)
        }
        var total = entries.reduce(0) { $0 + $1.bytes }
        var result = Removal()
        guard total > limit else { return result }
        entries.sort { $0.used < $1.used }
        for entry in entries where total > limit && entry.key != keeping {
            if removeEntry(entry.key) {
                total -= entry.bytes
                result.removed += 1
            } else {
                result.failed.append("\(entry.key): \(String(cString: strerror(errno)))")
            }
        }
        return result
    }

    /// Free bytes on the cache's file system (for a user without special privileges), or nil when unknown.
    public func freeBytes() -> Int? {
        var info = statvfs()
        var path = root.path
        while statvfs(path, &info) != 0 {
            let parent = (path as NSString).deletingLastPathComponent
            guard parent != path, !parent.isEmpty else { return nil }
            path = parent
        }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Makes room for a download of `bytes` (0 when unknown) that must leave `reserve` bytes free: evicts
    /// the least recently used entries as needed, and throws a retryable `disk_full` when that is not enough.
    public func ensureRoom(for bytes: Int, reserve: Int) throws {
        guard let free = freeBytes(), free < bytes + reserve else { return }
        let current = stats().bytes
        trim(to: max(0, current - (bytes + reserve - free)))
        if let after = freeBytes(), after < bytes + reserve {
            throw GGError("disk_full", "only \(after >> 20) MiB free in \(root.path); \(bytes >> 20) MiB to download and \(reserve >> 20) MiB to keep free",
                          retryable: true)
        }
    }

    private func removeEntry(_ key: String) -> Bool {
        let paths: [String] = [metaURL(key).path, dataURL(key).path]
        return paths.allSatisfy { path in unlink(path) == 0 || errno == ENOENT }
    }

    public func storeData(_ url: String, data: Data, contentType: String? = nil) throws {
        let temp = try temporaryFile()
        try data.write(to: temp)
        try store(url, file: temp, entry: CacheEntry(url: Secrets.redact(url), created: Date().timeIntervalSince1970, bytes: data.count, contentType: contentType))
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
        return CacheStats(entries: entries.count, bytes: bytes, oldest: iso(created.min()), newest: iso(created.max()), ttlSeconds: ttl, dir: root.path,
                          maxBytes: maxBytes, freeBytes: freeBytes())
    }

    /// What a clear or prune removed, and the entries it could not remove.
    public struct Removal: Sendable, Equatable {
        public var removed = 0
        public var failed: [String] = []

        public init(removed: Int = 0, failed: [String] = []) {
            self.removed = removed
            self.failed = failed
        }
    }

    /// Removes entries created more than `age` seconds ago or dated in the future, and temporary files
    /// no download has touched for an hour (or dated in the future). An object whose metadata is not written
    /// yet is left alone for an hour: it is being stored (data first, then metadata).
    @discardableResult
    public func prune(olderThan age: Double, now: Double = Date().timeIntervalSince1970) -> Removal {
        remove(where: { created in !isFresh(created ?? 0, now: now, ttl: age) }, now: now)
    }

    /// Removes every entry, and the temporary files of downloads that are no longer running.
    @discardableResult
    public func clear(now: Double = Date().timeIntervalSince1970) -> Removal {
        remove(where: { _ in true }, now: now)
    }

    private func remove(where expired: (Double?) -> Bool, now: Double) -> Removal {
        var result = Removal()
        for (key, entry) in allEntries() where expired(entry?.created) {
            if entry == nil {
                var info = stat()
                if stat(dataURL(key).path, &info) == 0, Double(info.st_mtim.tv_sec) > now - 3600 { continue }
            }
            if removeEntry(key) { result.removed += 1 } else { result.failed.append("\(key): \(String(cString: strerror(errno)))") }
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tempDir.path)) ?? [] {
            let path = tempDir.appendingPathComponent(name).path
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let modified = Double(info.st_mtim.tv_sec)
            guard modified < now - 3600 || modified > now + 60 else { continue }
            if (info.st_mode & S_IFMT) == S_IFDIR { try? FileManager.default.removeItem(atPath: path) } else { unlink(path) }
        }
        return result
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
