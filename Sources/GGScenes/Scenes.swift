import CFFmpeg
import Foundation
import GGMedia
import GGShared

/// gg-scenes: scene cuts and keyframes for every video item.
public enum ScenesTool {
    static let info = ToolInfo(
        name: "gg-scenes",
        summary: "Detect scene cuts in each video item and write one keyframe per scene.",
        details: """
        Adds "scenes": [{index, start, end, keyframe, keyframe_time}] to every video item; keyframes are
        written under WORK-DIR/<id>/. Image and audio items pass through untouched. The adaptive detector
        (default) cuts where a frame's HSV content difference stands out from its neighbours', and inside
        dissolves, wipes and other gradual transitions; flashes, motion and slow colour drifts do not cut.
        How: docs/stages/scenes.md.

        Examples:
          gg-fetch --allow-local --work-dir work < urls.txt | gg-scenes --work-dir work > scenes.ndjson
          gg-scenes --work-dir work --clips --threshold 0.22 fetched.ndjson
        """,
        options: [
            OptionSpec("--detector", value: "MODE", default: "adaptive", "adaptive or content (a fixed --threshold on the HSV difference)"),
            OptionSpec("--threshold", value: "X", default: "0.106 content, 0.059 adaptive", "cut threshold on the 0-1 scale of ffmpeg's scene score and the old service's threshold (0.22): a cut needs an HSV content difference of at least X × 255; with --detector content that alone cuts, with adaptive it is the floor under the neighbour ratio"),
            OptionSpec("--adaptive-threshold", value: "X", default: "3", "how many times its neighbours' difference a frame's must be to cut"),
            OptionSpec("--min-content", value: "X", default: "15", "smallest content difference (0-255) the adaptive detector cuts on between changing frames (between calm ones, a quarter of it, or an eighth spread over most pixels); --threshold sets it on the 0-1 scale"),
            OptionSpec("--without-rules", value: "LIST", default: "none",
                       "turn detector tests off, to measure what each is worth: comma-separated among \(DetectorRule.names)"),
            OptionSpec("--min-scene-len", value: "S", default: "0.5", "shortest scene in seconds"),
            OptionSpec("--fade-level", value: "X", default: "12", "mean brightness (0-255) below which a frame counts as black"),
            OptionSpec("--analysis-width", value: "PX", default: "160", "longer side frames are scaled to for analysis (the width of landscape frames, the height of portrait ones)"),
            OptionSpec("--keyframe-format", value: "FMT", default: "jpg", "jpg or png"),
            OptionSpec("--keyframe-width", value: "PX", default: "1280", "largest keyframe width; smaller frames are not enlarged"),
            OptionSpec("--deblock", value: "MODE", default: "referenced",
                       "H.264/HEVC deblocking: referenced (frames others refer to; keyframes are taken from I and P frames, so they are exact), all, or none (fastest, blockier keyframes)"),
            OptionSpec("--segments", value: "N", default: "number of CPUs", "decode long indexed videos as N stretches in parallel, joined at keyframes"),
            MediaLimits.maxPixelsOption,
            OptionSpec("--print-settings", "print every setting of the cut detector (the options above and its fixed constants, documented in Sources/GGScenes/Detector.swift), then exit"),
            OptionSpec("--clips", "also write each scene as a clip (stream copy; MP4 with an edit list starting it at the cut, Matroska for streams MP4 cannot hold)"),
        ],
        libraries: { _ in ffmpegVersions() })

    public static func main() -> Never {
        let runner = StageRunner(tool: info)
        let options = runner.options
        MediaLimits.configure(options)
        var settings = DetectorSettings()
        settings.mode = DetectorSettings.Mode(rawValue: options.choice("--detector", default: "adaptive", from: ["adaptive", "content"]))!
        settings.adaptiveThreshold = options.double("--adaptive-threshold", default: 3, min: 1, max: 255)
        settings.minContent = options.double("--min-content", default: 15, min: 0, max: 255)
        if options.string("--threshold") != nil {
            if options.string("--min-content") != nil { ParsedOptions.usage(info.name, "--threshold and --min-content set the same floor; give one") }
            let threshold = options.double("--threshold", default: 27.0 / 255, min: 0, max: 1) * 255
            settings.threshold = threshold
            if settings.mode == .adaptive { settings.minContent = threshold }
        }
        for name in (options.string("--without-rules") ?? "").split(separator: ",") where name != "none" {
            guard let rule = DetectorRule(rawValue: String(name)) else {
                ParsedOptions.usage(info.name, "option '--without-rules' takes rules among \(DetectorRule.names)")
            }
            settings.rules.remove(rule)
        }
        settings.minSceneLength = options.double("--min-scene-len", default: 0.5, min: 0, max: 86400)
        settings.fadeLevel = options.double("--fade-level", default: 12, min: 0, max: 255)
        if options.flag("--print-settings") {
            print(settings.listing, terminator: "")
            exit(ExitCode.ok.rawValue)
        }
        let analyser = SceneAnalyser(
            settings: settings,
            analysisWidth: options.int("--analysis-width", default: 160, min: 16, max: 4096),
            writer: ImageWriter(format: ImageWriter.Format(rawValue: options.choice("--keyframe-format", default: "jpg", from: ["jpg", "png"]))!,
                                maxWidth: options.int("--keyframe-width", default: 1280, min: 16, max: 16384)),
            clips: options.flag("--clips"),
            loopFilter: ["all": .full, "referenced": .skipUnreferenced, "none": .skipAll][
                options.choice("--deblock", default: "referenced", from: ["referenced", "all", "none"])]!,
            stretches: options.int("--segments", default: ProcessInfo.processInfo.activeProcessorCount, min: 1, max: 64),
            verbose: options.flag("--verbose"))
        runner.run { record, context in
            var record = record
            guard var items = record.items else { return record }
            let dir = context.recordDir(record)
            try context.forEachItem(&items, where: { $0.type == .video }) { item in
                do {
                    try analyser.analyse(&item, dir: dir, context)
                } catch {
                    item.scenes = nil
                    throw error
                }
            }
            record.items = items
            return record
        }
    }
}

/// Finds the scenes of one video file and writes their keyframes.
struct SceneAnalyser: Sendable {
    /// A video whose last frame ends more than `truncationSeconds` (or `truncationFrames` frames) before its
    /// stated duration is reported truncated, and its scenes end at the last frame.
    static let truncationSeconds = 0.5
    static let truncationFrames = 3.0

    let settings: DetectorSettings
    let analysisWidth: Int
    let writer: ImageWriter
    let clips: Bool
    let loopFilter: LoopFilter

    let stretches: Int
    let verbose: Bool

    func analyse(_ item: inout Item, dir: URL, _ context: StageContext) throws {
        let file = try FormatContext(path: item.path)
        guard let streamIndex = file.bestStream(AVMEDIA_TYPE_VIDEO) else { throw GGError("no_video", "no video stream") }
        let stream = file.stream(streamIndex)
        var turned = self.writer
        turned.geometry = DisplayGeometry(stream: stream)
        let writer = turned
        let rate = av_guess_frame_rate(file.pointer, stream, nil)
        let frameDuration = rate.num > 0 && rate.den > 0 ? Double(rate.den) / Double(rate.num) : 1.0 / 25
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let plans = StretchPlan.split(file, streamIndex: streamIndex, parts: stretches)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = Int32(max(1, cores / plans.count))
        if verbose {
            let timeBase = av_q2d(stream.pointee.time_base)
            let joins = plans.compactMap(\.start).map { "\(roundedSeconds(Double($0.pts) * timeBase)) s" }
            context.diagnostics.note("\(item.path): \(plans.count) stretch\(plans.count == 1 ? "" : "es")"
                                     + (joins.isEmpty ? "" : ", joined at \(joins.joined(separator: ", "))"), at: context.location)
        }
        let itemIndex = item.index
        let path = item.path
        @Sendable func decode(_ index: Int) throws -> StretchResult {
            try StretchDecoder(settings: settings, analysisWidth: analysisWidth, writer: writer, loopFilter: loopFilter, frameDuration: frameDuration)
                .decode(path: path, streamIndex: streamIndex, plan: plans[index], threads: threads, context: context) { scene in
                    dir.appendingPathComponent("\(itemIndex)-part\(index)-\(scene).\(writer.format.rawValue)").path
                }
        }
        var results: [StretchResult]
        if plans.count == 1 {
            results = [try decode(0)]
        } else {
            let collected = ResultSlots<StretchResult>(count: plans.count)
            DispatchQueue.concurrentPerform(iterations: plans.count) { index in collected.set(index, Result { try decode(index) }) }
            results = try plans.indices.map { try collected.get($0)!.get() }
        }
        guard results.contains(where: { $0.frameCount > 0 }) else { throw GGError("not_media", "no decodable video frames") }

        let last = results[results.count - 1]
        var warnings = [String]()
        let lastFrameEnd = last.lastTime + frameDuration
        var end = file.duration ?? lastFrameEnd
        if last.readStatus < 0 && last.readStatus != gg_averror_eof() {
            warnings.append("read error after \(roundedSeconds(last.lastTime)) s: \(avErrorString(last.readStatus))")
        }
        if results.contains(where: \.stoppedAfterErrors) { warnings.append("stopped after \(StretchPlan.maxDecodeErrors) undecodable packets") }
        let decodeErrors = results.reduce(0) { $0 + $1.decodeErrors }
        if decodeErrors > 0 { warnings.append("\(decodeErrors) packets could not be decoded") }
        if end - lastFrameEnd > max(SceneAnalyser.truncationSeconds, SceneAnalyser.truncationFrames * frameDuration) {
            warnings.append("decoded only up to \(roundedSeconds(lastFrameEnd)) s of \(roundedSeconds(end)) s; the file looks truncated")
            end = lastFrameEnd
        }
        results[results.count - 1].scenes = try results[results.count - 1].builder.finish(end: max(end, lastFrameEnd - frameDuration))
        var scenes = try StretchMerger(settings: settings, frameDuration: frameDuration).merge(results)
        for index in scenes.indices {
            let final = dir.appendingPathComponent("\(itemIndex)-scene-\(String(format: "%03d", index)).\(writer.format.rawValue)").path
            if !scenes[index].keyframe.isEmpty && scenes[index].keyframe != final {
                guard rename(scenes[index].keyframe, final) == 0 else { throw GGError("io", "cannot place keyframe \(final)") }
            }
            scenes[index].index = index
            if !scenes[index].keyframe.isEmpty { scenes[index].keyframe = final }
        }
        if clips {
            warnings += ClipWriter.write(scenes: &scenes, source: item.path, dir: dir, itemIndex: item.index)
        }
        item.scenes = scenes
        if !warnings.isEmpty { item.warnings = (item.warnings ?? []) + warnings }
    }
}

/// A frame that may become its scene's keyframe: its place among the scene's bright frames and its
/// change from the frame before (`AnalysedFrame.score`).
struct KeyframeCandidate {
    var frame: Frame
    var position: Int
    var time: Double
    var change: Double
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
    private var first: KeyframeCandidate?
    private var candidate: KeyframeCandidate?
    private var wantsCandidate = false
    private var previousCandidate: KeyframeCandidate?
    private var darkStart: Double?
    private var darkEnd = 0.0
    private var seenBright = false
    private var startsAtFirstFrame = false
    private var brightRun = 0
    /// A stretch after a join starts inside a scene that began earlier: its first scene's real start
    /// (and so the minimum length of a fade there) is for StretchMerger to check.
    private var sceneStartUnknown: Bool
    private var brightRunBeforeDark = 0
    /// Shortest scene a fade may end (the detector's --min-scene-len, which hard cuts obey too).
    var minSceneLength = 0.0
    /// A dark run between two pictures closer than this (content difference) is a black flash, not a fade.
    var flashSimilarity = 0.0
    /// The last frame before the current dark run, when it was not dimmed (a flash cuts to black, a fade dims).
    private var brightBeforeDark: AnalysedFrame?
    private var previousFrame: AnalysedFrame?
    /// Whether the open scene began at a gradual cut (which a fade through black right after replaces).
    private(set) var openedGradually = false
    /// Where this stretch's fade cuts are, so a join does not undo them.
    private(set) var fadeCuts: Set<Double> = []
    /// Whether the scene open when the stretch ended had bright frames (a fade across the join needs them).
    private(set) var endedBright = false
    /// The dark run the stretch began with, ended by its first bright frame.
    private(set) var leadingDark: ClosedRange<Double>?
    /// Where the dark run the stretch ends in began, if it ends dark.
    var trailingDarkStart: Double? { darkStart }

    /// `start` nil makes the first frame's time the start (a stretch after a join).
    init(fadeLevel: Double, frameDuration: Double, start: Double? = 0, writeKeyframe: @escaping (Frame, Int) throws -> String) {
        self.fadeLevel = fadeLevel
        self.frameDuration = frameDuration
        self.start = start ?? -1
        self.startsAtFirstFrame = start == nil
        sceneStartUnknown = start == nil
        // A stretch after a join cannot see the bright run before it: StretchMerger checks its fades.
        brightRun = start == nil ? Int.max / 2 : 0
        self.writeKeyframe = writeKeyframe
    }

    mutating func add(_ frame: AnalysedFrame, cut: Bool) throws {
        if startsAtFirstFrame {
            start = frame.time
            startsAtFirstFrame = false
        }
        lastTime = max(lastTime, frame.time)
        let dark = frame.isDark(fadeLevel)
        if cut {
            try close(at: frame.time)
            sceneStartUnknown = false
            openedGradually = frame.gradual
        } else if !dark, let darkStart {
            let cutTime = min(SceneBuilder.fadeCut(darkStart, darkEnd, frameDuration: frameDuration), frame.time)
            if brightCount > 0 {
                let flash = isBlackFlash(endingWith: frame)
                if !flash, openedGradually, darkStart - start <= SceneBuilder.fadeOutReach, let opening = scenes.last,
                   cutTime - opening.start >= minSceneLength {
                    moveLastBoundary(to: cutTime)
                    fadeCuts.insert(roundedSeconds(cutTime))
                } else if !flash, isFade(darkStart: darkStart, cutTime: cutTime) {
                    try close(at: cutTime)
                    fadeCuts.insert(roundedSeconds(cutTime))
                }
                openedGradually = false
            } else if !seenBright {
                leadingDark = darkStart...darkEnd
            }
        }
        if !dark { seenBright = true }
        if dark {
            if darkStart == nil {
                darkStart = frame.time
                brightRunBeforeDark = brightRun
                brightBeforeDark = previousFrame
            }
            darkEnd = frame.time
            brightRun = 0
        } else {
            darkStart = nil
            brightRun += 1
        }
        previousFrame = frame
        previousFrame?.payload = nil
        guard let picture = frame.payload as? Frame else { return }
        if first == nil { first = KeyframeCandidate(frame: picture, position: 0, time: frame.time, change: frame.score) }
        if !dark {
            brightCount += 1
            if brightCount & (brightCount - 1) == 0 { wantsCandidate = true }
            if wantsCandidate && !picture.isBidirectional && !frame.gradual {
                previousCandidate = candidate
                candidate = KeyframeCandidate(frame: picture, position: brightCount, time: frame.time, change: frame.score)
                wantsCandidate = false
            }
        }
    }

    private mutating func close(at time: Double) throws {
        guard time > start else { return }
        let keyframe = chooseKeyframe()
        let index = scenes.count
        let path = try keyframe.map { try writeKeyframe($0.frame, index) } ?? ""
        scenes.append(Scene(index: index, start: roundedSeconds(start), end: roundedSeconds(time), keyframe: path,
                            keyframeTime: keyframe.map { roundedSeconds($0.time) }))
        beginScene(at: time)
    }

    /// Starts the next scene at `time`, with no keyframe candidates yet.
    private mutating func beginScene(at time: Double) {
        start = time
        brightCount = 0
        first = nil
        candidate = nil
        previousCandidate = nil
        wantsCandidate = false
    }

    /// A dark stretch ends a scene only as a fade does: after a bright stretch of at least a quarter
    /// second (flashes in dark footage are not fades), and no sooner than the shortest scene allowed.
    private func isFade(darkStart: Double, cutTime: Double) -> Bool {
        Double(brightRunBeforeDark) * frameDuration >= SceneBuilder.fadeBrightRun && (sceneStartUnknown || cutTime - start >= minSceneLength)
    }

    /// A gradual cut this soon before a dark stretch was the fade-out of a fade through black.
    static let fadeOutReach = 1.0
    /// Seconds of bright frames a dark stretch follows for it to be a fade.
    static let fadeBrightRun = 0.25
    /// A black flash is entered and left at `undimmedFactor` times the fade level or brighter.
    static let undimmedFactor = 2.0

    /// Moves the boundary the open scene began at to a later time (a fade's dark stretch), giving the
    /// frames before it to the scene before, whose keyframe stays.
    private mutating func moveLastBoundary(to time: Double) {
        guard let last = scenes.indices.last, time > start else { return }
        scenes[last].end = roundedSeconds(time)
        beginScene(at: time)
    }

    /// A dark run entered and left at full brightness, between two pictures that are alike.
    private func isBlackFlash(endingWith frame: AnalysedFrame) -> Bool {
        guard let before = brightBeforeDark else { return false }
        let undimmed = SceneBuilder.undimmedFactor * fadeLevel
        return before.meanValue >= undimmed && frame.meanValue >= undimmed && contentDifference(before.hsv, frame.hsv) < flashSimilarity
    }

    /// Where a fade through black cuts: the frame nearest the middle of the dark stretch.
    static func fadeCut(_ darkStart: Double, _ darkEnd: Double, frameDuration: Double) -> Double {
        let middle = (darkStart + darkEnd) / 2
        return darkStart + ((middle - darkStart) / frameDuration + DetectorSettings.timeTolerance).rounded(.down) * frameDuration
    }

    /// A candidate `steadierBy` times steadier than the other or more (a smaller change from the frame
    /// before it, plus one) is taken, as the other is still changing: blended in a transition the detector
    /// cut early in, or blurred by motion. Otherwise the one nearer the middle of the scene.
    static let steadierBy = 1.5

    private func chooseKeyframe() -> KeyframeCandidate? {
        guard let candidate else { return first }
        guard let previousCandidate else { return candidate }
        let steadier = SceneBuilder.steadierBy
        if (candidate.change + 1) * steadier <= previousCandidate.change + 1 { return candidate }
        if (previousCandidate.change + 1) * steadier <= candidate.change + 1 { return previousCandidate }
        let middle = Double(brightCount) / 2
        return abs(Double(candidate.position) - middle) <= abs(Double(previousCandidate.position) - middle) ? candidate : previousCandidate
    }

    mutating func finish(end: Double) throws -> [Scene] {
        if end > start || scenes.isEmpty { try close(at: max(end, start + frameDuration)) }
        return scenes
    }

    /// Closes the open scene where the stretch ends, keeping the keyframe candidates' choice.
    mutating func finishStretch(at end: Double) throws -> [Scene] {
        endedBright = brightCount > 0
        if end > start { try close(at: end) }
        return scenes
    }
}
