import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one folder a run's files live in: stages read, embed and delete only files under it, and read
/// (never delete) files under the folders the user allowed with `--allow-root`.
public struct WorkRoot: Sendable {
    public let url: URL
    /// The root with symbolic links and `..` resolved.
    public let canonical: String
    /// Further folders files may be read from, resolved likewise.
    public let readable: [String]

    public init(_ url: URL, readable: [String] = []) {
        self.url = url
        canonical = WorkRoot.canonical(url.path)
        self.readable = readable.filter { !$0.isEmpty }.map(WorkRoot.canonical)
    }

    /// Whether `path` (after resolving links and `..`) lies under the work root.
    public func contains(_ path: String) -> Bool {
        !path.isEmpty && WorkRoot.inside(WorkRoot.canonical(path), canonical)
    }

    /// Whether `path` may be read: under the work root or an allowed folder.
    public func mayRead(_ path: String) -> Bool {
        guard !path.isEmpty else { return false }
        let resolved = WorkRoot.canonical(path)
        return ([canonical] + readable).contains { WorkRoot.inside(resolved, $0) }
    }

    private static func inside(_ path: String, _ folder: String) -> Bool {
        path.hasPrefix(folder == "/" ? "/" : folder + "/")
    }

    /// `path` when it may be read; otherwise a `forbidden_path` error (a record naming a file elsewhere,
    /// such as /etc/shadow, is never read or embedded).
    public func confine(_ path: String) throws -> String {
        guard mayRead(path) else { throw GGError("forbidden_path", "\(path) is outside the work root \(url.path)") }
        return path
    }

    /// The absolute path with symbolic links and `..` resolved, as far as the path exists.
    public static func canonical(_ path: String) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        if let resolved = realpath(absolute, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        let parent = (absolute as NSString).deletingLastPathComponent
        guard parent != absolute, !parent.isEmpty else { return absolute }
        return (canonical(parent) as NSString).appendingPathComponent((absolute as NSString).lastPathComponent)
    }
}
