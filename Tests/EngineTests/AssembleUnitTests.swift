import GGShared
import XCTest
@testable import GGAssemble

/// gg-assemble's shapes for the old service's clients, built from results made in memory.
final class AssembleUnitTests: XCTestCase {
    private func json(_ value: some Encodable) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
    }

    /// The old service wrote confidence 0-1, a space before each transcript line, and `{status, error, url}` for a
    /// failed URL; its batch answer nests a result or gives `detail`.
    func testGilgameshShapesMatchTheOldService() throws {
        let transcript = Transcript(language: "en", engine: "whisper", text: "hello there", segments: [Segment(start: 0, end: 1.5, text: "hello there")])
        let scene = SceneResult(index: 0, start: 0, end: 2, text: "BREAKING NEWS", confidence: 96.5)
        let ok = ServiceResult(id: "abc", url: "https://example.com/v", status: "success", title: "T",
                               videos: [VideoResult(index: 0, scenes: [scene], transcript: transcript)],
                               images: [ImageResult(index: 0, text: "SIGN")])
        let shaped = try json(AssembledResult(result: ok, shape: .gilgamesh))
        let video = try XCTUnwrap((shaped["videos"] as? [[String: Any]])?.first)
        XCTAssertEqual(video["id"] as? String, "abc-0")
        XCTAssertEqual((video["scenes"] as? [[String: Any]])?.first?["confidence"] as? Double, 0.965)
        XCTAssertEqual((video["transcript"] as? [[String: Any]])?.first?["text"] as? String, " hello there")
        XCTAssertEqual((shaped["images"] as? [[String: Any]])?.first?["text"] as? String, "SIGN")
        XCTAssertEqual(shaped["description"] as? String, "", "the old service always wrote a description")

        let failed = ServiceResult(id: "def", url: "https://example.com/gone", status: "error",
                                   error: StageFailure(stage: "fetch", kind: "http_error", message: "HTTP 404"))
        let failure = try json(AssembledResult(result: failed, shape: .gilgamesh))
        XCTAssertEqual(failure as NSDictionary, ["status": "error", "error": "HTTP 404", "url": "https://example.com/gone"] as NSDictionary)
        let entry = try json(AssembledResult(result: failed, shape: .gilgameshBatch))
        XCTAssertEqual(entry as NSDictionary, ["status": "error", "url": "https://example.com/gone", "detail": "HTTP 404"] as NSDictionary)
        let batched = try json(AssembledResult(result: ok, shape: .gilgameshBatch))
        XCTAssertEqual(batched["status"] as? String, "success")
        XCTAssertEqual((batched["result"] as? [String: Any])?["url"] as? String, "https://example.com/v")
    }
}
