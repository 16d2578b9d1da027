import CFFmpeg
import Foundation
import GGShared

/// gg-scenes: scene cuts and keyframes for every video item.
enum ScenesTool {
    static let info = ToolInfo(
        name: "gg-scenes",
        summary: "Detect scene cuts in each video item and write one keyframe per scene.",
        details: """
        Adds "scenes": [{index, start, end, keyframe}] to every video item; keyframes are written under
        WORK-DIR/<id>/. Image and audio items pass through untouched. The adaptive detector (default) compares
        each frame's HSV content difference with its neighbours', so fast motion and single-frame flashes do
        not cut; fades through black cut in the middle of the dark stretch.
        """,
        options: [
            OptionSpec("--detector", value: "MODE", default: "adaptive", "adaptive or content (a fixed --threshold on the HSV difference)"),
            OptionSpec("--threshold", value: "X", default: "27", "content difference (0-255) that makes a cut in content mode"),
            OptionSpec("--adaptive-threshold", value: "X", default: "3", "how many times its neighbours' difference a frame's must be to cut"),
            OptionSpec("--min-content", value: "X", default: "15", "smallest content difference the adaptive detector cuts on"),
            OptionSpec("--min-scene-len", value: "S", default: "0.5", "shortest scene in seconds"),
            OptionSpec("--fade-level", value: "X", default: "12", "mean brightness (0-255) below which a frame counts as black"),
            OptionSpec("--analysis-width", value: "PX", default: "160", "width frames are scaled to for analysis"),
            OptionSpec("--keyframe-format", value: "FMT", default: "jpg", "jpg or png"),
            OptionSpec("--keyframe-width", value: "PX", default: "1280", "largest keyframe width; smaller frames are not enlarged"),
            OptionSpec("--fast-decode", "skip H.264/HEVC deblocking while decoding: faster, slightly blockier keyframes"),
            OptionSpec("--clips", "also write each scene as an MP4 clip (stream copy; an edit list starts it at the cut)"),
        ],
        libraries: ffmpegVersions)

    static func main() -> Never {
        let runner = StageRunner(tool: info)
        let options = runner.options
        var settings = DetectorSettings()
        settings.mode = DetectorSettings.Mode(rawValue: options.choice("--detector", default: "adaptive", from: ["adaptive", "content"]))!
        settings.threshold = options.double("--threshold", default: 27, min: 0, max: 255)
        settings.adaptiveThreshold = options.double("--adaptive-threshold", default: 3, min: 1)
        settings.minContent = options.double("--min-content", default: 15, min: 0, max: 255)
        settings.minSceneLength = options.double("--min-scene-len", default: 0.5, min: 0)
        settings.fadeLevel = options.double("--fade-level", default: 12, min: 0, max: 255)
        let analyser = SceneAnalyser(
            settings: settings,
            analysisWidth: options.int("--analysis-width", default: 160, min: 16, max: 4096),
            writer: ImageWriter(format: ImageWriter.Format(rawValue: options.choice("--keyframe-format", default: "jpg", from: ["jpg", "png"]))!,
                                maxWidth: options.int("--keyframe-width", default: 1280, min: 16)),
            clips: options.flag("--clips"),
            fastDecode: options.flag("--fast-decode"))
        runner.run { record, context in
            var record = record
            guard var items = record.items else { return record }
            for index in items.indices where items[index].type == .video && items[index].error == nil {
                try context.checkCancelled()
                do {
                    try analyser.analyse(&items[index], dir: context.recordDir(record), context)
                } catch let error as GGError where error.kind != "timeout" {
                    items[index].scenes = nil
                    items[index].error = error.failure(stage: context.stage)
                }
            }
            record.items = items
            return record
        }
    }
}

/// Finds the scenes of one video file and writes their keyframes.
struct SceneAnalyser: Sendable {
    let settings: DetectorSettings
    let analysisWidth: Int
    let writer: ImageWriter
    let clips: Bool
    let fastDecode: Bool

    func analyse(_ item: inout Item, dir: URL, _ context: StageContext) throws {
        let file = try FormatContext(path: item.path)
        guard let streamIndex = file.bestStream(AVMEDIA_TYPE_VIDEO) else { throw GGError("no_video", "no video stream") }
        let stream = file.stream(streamIndex)
        let decoder = try Decoder(stream: stream, threads: 0, fast: fastDecode)
        let timeBase = av_q2d(stream.pointee.time_base)
        let startTime = stream.pointee.start_time == gg_av_nopts_value() ? 0 : stream.pointee.start_time
        let rate = av_guess_frame_rate(file.pointer, stream, nil)
        let frameDuration = rate.num > 0 && rate.den > 0 ? Double(rate.den) / Double(rate.num) : 1.0 / 25
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        var detector = CutDetector(settings: settings)
        let itemIndex = item.index
        var builder = SceneBuilder(fadeLevel: settings.fadeLevel, frameDuration: frameDuration) { frame, scene in
            let path = dir.appendingPathComponent("\(itemIndex)-scene-\(String(format: "%03d", scene)).\(writer.format.rawValue)").path
            try writer.write(frame, to: path)
            return path
        }
        let scaler = AnalysisScaler(width: analysisWidth)
        let packet = Packet()
        let frame = Frame()
        var frameCount = 0
        var warnings = [String]()
        var decodeErrors = 0
        var hsv = [UInt8]()

        func drain() throws {
            while decoder.receive(frame) >= 0 {
                let pts = frame.pointer.pointee.best_effort_timestamp
                let time = pts == gg_av_nopts_value() ? Double(frameCount) * frameDuration : Double(pts - startTime) * timeBase
                let mean = try scaler.hsv(of: frame.pointer, into: &hsv)
                let analysed = AnalysedFrame(index: frameCount, time: max(0, time), hsv: hsv, meanValue: mean, score: 0, payload: frame.reference())
                frameCount += 1
                for (decided, cut) in detector.push(analysed) { try builder.add(decided, cut: cut) }
                frame.unref()
                if frameCount % 64 == 0 { try context.checkCancelled() }
            }
        }

        var readStatus: Int32 = 0
        while true {
            readStatus = file.read(into: packet)
            if readStatus < 0 { break }
            defer { packet.unref() }
            guard packet.pointer.pointee.stream_index == Int32(streamIndex) else { continue }
            let sent = decoder.send(packet)
            if sent < 0 && sent != gg_averror_eagain() {
                decodeErrors += 1
                if decodeErrors > 100 {
                    warnings.append("stopped after 100 undecodable packets")
                    break
                }
            }
            try drain()
        }
        _ = decoder.send(nil)
        try drain()
        for (decided, cut) in detector.finish() { try builder.add(decided, cut: cut) }
        guard frameCount > 0 else { throw GGError("not_media", "no decodable video frames") }

        let lastFrameEnd = builder.lastTime + frameDuration
        var end = file.duration ?? lastFrameEnd
        if readStatus < 0 && readStatus != gg_averror_eof() {
            warnings.append("read error after \(roundedSeconds(builder.lastTime)) s: \(avErrorString(readStatus))")
        }
        if decodeErrors > 0 { warnings.append("\(decodeErrors) packets could not be decoded") }
        if end - lastFrameEnd > max(0.5, 3 * frameDuration) {
            warnings.append("decoded only up to \(roundedSeconds(lastFrameEnd)) s of \(roundedSeconds(end)) s; the file looks truncated")
            end = lastFrameEnd
        }
        var scenes = try builder.finish(end: max(end, lastFrameEnd - frameDuration))
        if clips {
            try ClipWriter.write(scenes: &scenes, source: item.path, streamIndex: streamIndex, dir: dir, itemIndex: item.index)
        }
        item.scenes = scenes
        if !warnings.isEmpty { item.warnings = (item.warnings ?? []) + warnings }
    }
}

/// Groups decided frames into scenes, handles fades through black and picks keyframes.
struct SceneBuilder {
    let fadeLevel: Double
    let frameDuration: Double
    let writeKeyframe: (Frame, Int) throws -> String
    private(set) var scenes: [Scene] = []
    private(set) var lastTime = 0.0
    private var start = 0.0
    private var brightCount = 0
    private var first: Frame?
    private var candidate: (frame: Frame, position: Int)?
    private var previousCandidate: (frame: Frame, position: Int)?
    private var darkStart: Double?
    private var darkEnd = 0.0

    init(fadeLevel: Double, frameDuration: Double, writeKeyframe: @escaping (Frame, Int) throws -> String) {
        self.fadeLevel = fadeLevel
        self.frameDuration = frameDuration
        self.writeKeyframe = writeKeyframe
    }

    mutating func add(_ frame: AnalysedFrame, cut: Bool) throws {
        lastTime = max(lastTime, frame.time)
        let dark = frame.meanValue < fadeLevel
        if cut {
            try close(at: frame.time)
        } else if !dark, let darkStart {
            if brightCount > 0 {
                let middle = (darkStart + darkEnd) / 2
                let snapped = darkStart + ((middle - darkStart) / frameDuration + 1e-6).rounded(.down) * frameDuration
                try close(at: min(snapped, frame.time))
            }
        }
        if dark {
            if darkStart == nil { darkStart = frame.time }
            darkEnd = frame.time
        } else {
            darkStart = nil
        }
        guard let picture = frame.payload as? Frame else { return }
        if first == nil { first = picture }
        if !dark {
            brightCount += 1
            if brightCount & (brightCount - 1) == 0 {
                previousCandidate = candidate
                candidate = (picture, brightCount)
            }
        }
    }

    private mutating func close(at time: Double) throws {
        guard time > start else { return }
        let keyframe = chooseKeyframe()
        let index = scenes.count
        let path = try keyframe.map { try writeKeyframe($0, index) } ?? ""
        scenes.append(Scene(index: index, start: roundedSeconds(start), end: roundedSeconds(time), keyframe: path))
        start = time
        brightCount = 0
        first = nil
        candidate = nil
        previousCandidate = nil
    }

    private func chooseKeyframe() -> Frame? {
        let middle = Double(brightCount) / 2
        let options = [candidate, previousCandidate].compactMap { $0 }
        let best = options.min { abs(Double($0.position) - middle) < abs(Double($1.position) - middle) }
        return best?.frame ?? first
    }

    mutating func finish(end: Double) throws -> [Scene] {
        if end > start || scenes.isEmpty { try close(at: max(end, start + frameDuration)) }
        return scenes
    }
}
