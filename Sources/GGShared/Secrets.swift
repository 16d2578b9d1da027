import Foundation

/// Hides credentials in text that reaches logs, error messages and stored metadata: the userinfo of
/// URLs (`https://user:pass@host/` becomes `https://***@host/`) and the values of query parameters
/// named like secrets (token, key, signature, password, session, auth, credential...).
public enum Secrets {
    static let secretNames = ["token", "key", "sig", "signature", "password", "passwd", "pwd", "secret", "session",
                              "auth", "credential", "oauth", "jwt", "x-amz-", "policy", "hmac", "code"]

    /// `text` with every URL's credentials replaced by `***`.
    public static func redact(_ text: String) -> String {
        guard text.contains("://") else { return text }
        var output = ""
        var rest = Substring(text)
        while let scheme = rest.range(of: "://") {
            output += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let end = rest.firstIndex(where: { $0.isWhitespace || $0 == "\"" || $0 == "'" || $0 == "<" || $0 == ">" }) ?? rest.endIndex
            output += redactURLTail(String(rest[..<end]))
            rest = rest[end...]
        }
        return output + rest
    }

    /// The part of a URL after `scheme://`, credentials hidden.
    static func redactURLTail(_ tail: String) -> String {
        var tail = tail
        let authorityEnd = tail.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? tail.endIndex
        if let at = tail[..<authorityEnd].lastIndex(of: "@") {
            tail = "***" + tail[at...]
        }
        guard let question = tail.firstIndex(of: "?") else { return tail }
        let fragment = tail[question...].firstIndex(of: "#") ?? tail.endIndex
        let query = tail[tail.index(after: question)..<fragment].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return String(pair) }
            let name = parts[0].lowercased()
            return secretNames.contains(where: { name.contains($0) }) ? "\(parts[0])=***" : String(pair)
        }
        return String(tail[...question]) + query.joined(separator: "&") + tail[fragment...]
    }
}
