import Foundation

/// libFuzzer entry: every line that decodes as a record must encode and decode back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func recordFuzzer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
        guard let text = String(validating: line, as: UTF8.self), let record = try? RecordJSON.decodeRecord(text) else { continue }
        let encoded = RecordJSON.encodeLine(record)
        guard let again = try? RecordJSON.decodeRecord(encoded), again == record else {
            fatalError("record did not survive a round trip: \(text) -> \(encoded)")
        }
    }
    return 0
}
