import Foundation

/// The one JSON configuration every tool reads and writes records with.
public enum RecordJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    public static func encodeLine<T: Encodable>(_ value: T) -> String {
        guard let data = try? encoder().encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    public static func decodeRecord(_ line: String) throws -> Record {
        try decoder().decode(Record.self, from: Data(line.utf8))
    }
}

extension DecodingError {
    /// A short human message: what was wrong and where in the record.
    public var briefDescription: String {
        func path(_ keys: [CodingKey]) -> String {
            keys.isEmpty ? "record" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch self {
        case .dataCorrupted(let context):
            if !context.codingPath.isEmpty { return "invalid value at \(path(context.codingPath)): \(context.debugDescription)" }
            let underlying = context.underlyingError.map { error -> String in
                let ns = error as NSError
                return (ns.userInfo["NSDebugDescription"] as? String) ?? String(describing: error)
            }
            return "invalid JSON" + (underlying.map { ": \($0)" } ?? "")
        case .keyNotFound(let key, let context):
            return "missing field '\(key.stringValue)' in \(path(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "wrong type at \(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "null at \(path(context.codingPath)): expected \(type)"
        @unknown default:
            return "invalid record"
        }
    }
}

/// Typed reads of JSONSerialization's values that keep JSON's booleans and numbers apart (on Linux the
/// numbers 0 and 1 also pass `as? Bool`, and `true` passes `as? Double`).
public enum JSONValue {
    private static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    /// `value` when it is JSON's true or false.
    public static func bool(_ value: Any) -> Bool? {
        guard let number = value as? NSNumber, isBoolean(number) else { return nil }
        return number.boolValue
    }

    /// `value` when it is a JSON number (not a boolean).
    public static func number(_ value: Any) -> Double? {
        guard let number = value as? NSNumber, !isBoolean(number) else { return nil }
        return number.doubleValue
    }
}
