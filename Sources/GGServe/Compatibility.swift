import CMicroHTTPD
import Foundation
import GGShared

/// What gg-serve does for the old Gilgamesh service's clients and for browsers: the answer shape a
/// request gets when it does not ask (`--format`, `GG_FORMAT`), which version of the old API the
/// shapes of /cache/stats follow (`--gilgamesh-api`), and the origins CORS lets in (`--cors-origin`).
struct Compatibility: Sendable {
    var format = "gg"
    var apiVersion = 2
    /// Origins allowed to read answers from a browser; `*` for any.
    var corsOrigins: [String] = []

    /// The CORS headers for a request from `origin` (none when it is not allowed, or not a browser's).
    func corsHeaders(origin: String?) -> [(String, String)] {
        guard let origin, !origin.isEmpty else { return [] }
        if corsOrigins.contains("*") { return [("Access-Control-Allow-Origin", "*")] }
        guard corsOrigins.contains(origin) else { return [] }
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    }

    /// The answer to a CORS preflight (OPTIONS) for a route that accepts `methods`.
    func preflight(origin: String?, methods: Set<String>) -> Reply {
        var reply = Reply(status: 204, body: Data(), contentType: "text/plain")
        let allowed = (methods.sorted() + ["OPTIONS"]).joined(separator: ", ")
        reply.headers.append(("Allow", allowed))
        let cors = corsHeaders(origin: origin)
        if !cors.isEmpty {
            reply.headers += cors + [("Access-Control-Allow-Methods", allowed),
                                     ("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept"),
                                     ("Access-Control-Max-Age", "600")]
        }
        return reply
    }

    /// The old service's answer for a single URL that failed (its second API): 400 "Unsupported URL" for a
    /// URL no resolver takes (or a page without media), 500 with the message for anything else.
    static func singleFailure(kind: String?, message: String) -> Reply {
        if kind == "unsupported_url" || kind == "not_media" { return .json(400, ["detail": "Unsupported URL"]) }
        return .json(500, ["detail": message])
    }
}
