import Foundation

/// GET /docs: the OpenAPI description as one self-contained HTML page (no scripts, no CDN) a person can
/// read the API from: every path and method with its parameters and answers, then every schema.
enum DocsPage {
    static let html: String = render(OpenAPI.document)

    static func render(_ document: String) -> String {
        guard let doc = (try? JSONSerialization.jsonObject(with: Data(document.utf8))) as? [String: Any] else { return "<p>no API description</p>" }
        let info = doc["info"] as? [String: Any] ?? [:]
        var out = """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(escape(info["title"] as? String ?? "API"))</title>
        <style>body{font:15px/1.5 system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
        h2{border-bottom:1px solid #ccc;margin-top:2em}.op{margin:1em 0 1.5em}.method{font-weight:bold;text-transform:uppercase;
        display:inline-block;min-width:4.5em}code,pre{font:13px ui-monospace,monospace;background:#f4f4f4}pre{padding:.6em;overflow:auto}
        td,th{text-align:left;padding:.15em .8em .15em 0;vertical-align:top}</style></head><body>
        <h1>\(escape(info["title"] as? String ?? "API")) <small>\(escape(info["version"] as? String ?? ""))</small></h1>
        <p>\(escape(info["description"] as? String ?? ""))</p>
        <p>Every endpoint but those marked <em>open</em> needs <code>Authorization: Bearer &lt;token&gt;</code> when the server has a token.
        The machine-readable description: <a href="/openapi.json"><code>/openapi.json</code></a>.</p>
        <h2>Endpoints</h2>
        """
        let paths = doc["paths"] as? [String: [String: Any]] ?? [:]
        for path in paths.keys.sorted() {
            for (method, value) in (paths[path] ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let operation = value as? [String: Any] else { continue }
                let open = (operation["security"] as? [Any])?.isEmpty == true
                out += "<div class=\"op\"><span class=\"method\">\(escape(method))</span> <code>\(escape(path))</code>\(open ? " <em>open</em>" : "")"
                out += "<br>\(escape(operation["summary"] as? String ?? ""))"
                let parameters = (operation["parameters"] as? [[String: Any]] ?? []).map { resolve($0, in: doc) }
                if !parameters.isEmpty {
                    out += "<table><tr><th>parameter</th><th>in</th><th>schema</th></tr>"
                    for parameter in parameters {
                        out += "<tr><td><code>\(escape(parameter["name"] as? String ?? ""))</code></td><td>\(escape(parameter["in"] as? String ?? ""))</td>"
                        out += "<td><code>\(escape(compact(parameter["schema"])))</code></td></tr>"
                    }
                    out += "</table>"
                }
                if let body = operation["requestBody"] as? [String: Any] {
                    out += "<p>Body: <code>\(escape(compact(((body["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"])))</code></p>"
                }
                out += "<table><tr><th>status</th><th>answer</th></tr>"
                for (status, answer) in (operation["responses"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let response = resolve(answer as? [String: Any] ?? [:], in: doc)
                    let schemas = (response["content"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }).map { type, content in
                        "\(type): \(compact((content as? [String: Any])?["schema"]))"
                    }
                    out += "<tr><td>\(escape(status))</td><td>\(escape(response["description"] as? String ?? ""))"
                    out += schemas.map { "<br><code>\(escape($0))</code>" }.joined() + "</td></tr>"
                }
                out += "</table></div>\n"
            }
        }
        out += "<h2>Schemas</h2>\n"
        let schemas = (doc["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        for name in schemas.keys.sorted() {
            let pretty = (try? JSONSerialization.data(withJSONObject: schemas[name]!, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
                .map { String(decoding: $0, as: UTF8.self) } ?? ""
            out += "<h3 id=\"\(escape(name))\">\(escape(name))</h3><pre>\(escape(pretty))</pre>\n"
        }
        return out + "</body></html>\n"
    }

    /// A `$ref`'d object replaced by what it names.
    static func resolve(_ object: [String: Any], in doc: [String: Any]) -> [String: Any] {
        guard let reference = object["$ref"] as? String, reference.hasPrefix("#/") else { return object }
        var node: Any = doc
        for part in reference.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] ?? [:] }
        return node as? [String: Any] ?? object
    }

    /// A schema in one short line: `$ref`s by their names.
    static func compact(_ schema: Any?) -> String {
        guard let schema else { return "" }
        let data = (try? JSONSerialization.data(withJSONObject: schema, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "{\"$ref\":\"#/components/schemas/", with: "<").replacingOccurrences(of: "\"}", with: ">")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
