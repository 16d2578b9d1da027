import CFFmpeg
import Foundation
import GGMedia
import GGShared

/// A keyframe packet where one stretch of a video ends and the next begins.
struct Join: Sendable {
    /// Index timestamp to seek to (decoding or presentation time, as the container indexes).
    var seek: Int64
    /// The keyframe packet's decoding order key (its dts, else its pts) and presentation time.
    var order: Int64
    var pts: Int64
}

/// A stretch of a video in decoding order: from one join's keyframe packet up to the next's.
/// Frames decodable from the packets before the next keyframe belong to this stretch.
struct StretchPlan: Sendable {
    var start: Join?
    var end: Join?
    /// A keyframe packet 1-2.5 s before `start` whose frames only give the cut detector the history one pass
    /// would have at the join (a transition beginning just after it is found); nil when there is none.
    var warmup: Join?

    static let whole = StretchPlan(start: nil, end: nil)
    static let warmupSeconds = 1.0...2.5
    /// Videos shorter than `minSplitSeconds` stay whole; a video is cut into at most one stretch per
    /// `secondsPerStretch`, joined no nearer than `joinMargin` seconds to either end, and only when its index
    /// covers it to within `maxUnindexedTail` seconds or `maxUnindexedShare` of its length.
    static let minSplitSeconds = 8.0
    static let secondsPerStretch = 4.0
    static let joinMargin = 2.0
    static let maxUnindexedTail = 12.0
    static let maxUnindexedShare = 0.25
    /// Undecodable packets after which a stretch stops.
    static let maxDecodeErrors = 100
    /// How far past `end` a stretch reads on for its detector, so that a transition running over the join
    /// is decided by the stretch it starts in, as one pass decides it.
    static let overrunSeconds = 0.5

    /// Splits an indexed video at keyframes near equal shares of its decoding cost, estimated as the
    /// mean of its share of time and its share of the file's bytes (busy pictures take longer).
    /// Matroska/WebM cues load on a first seek; short videos and those without an index covering
    /// their length (MPEG-TS, Matroska without cues) stay whole.
    static func split(_ file: FormatContext, streamIndex: Int, parts: Int) -> [StretchPlan] {
        let stream = file.stream(streamIndex)
        let timeBase = av_q2d(stream.pointee.time_base)
        guard parts > 1, let duration = file.duration, duration >= minSplitSeconds, timeBase > 0 else { return [.whole] }
        let origin = stream.pointee.start_time == gg_av_nopts_value() ? 0 : stream.pointee.start_time
        if avformat_index_get_entries_count(stream) < 2 { _ = av_seek_frame(file.pointer, Int32(streamIndex), origin, AVSEEK_FLAG_BACKWARD) }
        var keyframes = [(timestamp: Int64, position: Int64)]()
        var firstPosition = Int64.max, endPosition = max(0, avio_size(file.pointer.pointee.pb))
        for i in 0..<avformat_index_get_entries_count(stream) {
            guard let entry = avformat_index_get_entry(stream, i) else { continue }
            firstPosition = min(firstPosition, entry.pointee.pos)
            endPosition = max(endPosition, entry.pointee.pos + Int64(entry.pointee.size))
            if entry.pointee.flags & AVINDEX_KEYFRAME != 0 { keyframes.append((entry.pointee.timestamp, entry.pointee.pos)) }
        }
        guard let lastKeyframe = keyframes.map(\.timestamp).max(),
              duration - Double(lastKeyframe - origin) * timeBase <= max(maxUnindexedTail, duration * maxUnindexedShare) else { return [.whole] }
        let bytes = Double(endPosition - firstPosition)
        let costs = keyframes.map { keyframe -> (timestamp: Int64, cost: Double) in
            let timeShare = Double(keyframe.timestamp - origin) * timeBase / duration
            let byteShare = bytes > 0 && keyframe.position >= firstPosition ? Double(keyframe.position - firstPosition) / bytes : timeShare
            return (keyframe.timestamp, (timeShare + byteShare) / 2)
        }
        let shares = min(parts, Int(duration / secondsPerStretch))
        var joins = [Join]()
        for k in 1..<max(shares, 1) {
            let share = Double(k) / Double(shares)
            let nearest = costs.min { abs($0.cost - share) < abs($1.cost - share) }?.timestamp
            guard let nearest else { continue }
            let seconds = Double(nearest - origin) * timeBase
            guard seconds >= joinMargin, seconds <= duration - joinMargin, let join = keyframePacket(file, streamIndex: streamIndex, seek: nearest),
                  join.order > (joins.last?.order ?? Int64.min) else { continue }
            joins.append(join)
        }
        guard !joins.isEmpty else { return [.whole] }
        var plans = [StretchPlan]()
        var from: Join?
        for join in joins {
            plans.append(StretchPlan(start: from, end: join, warmup: from.flatMap { warmup(before: $0) }))
            from = join
        }
        plans.append(StretchPlan(start: from, end: nil, warmup: from.flatMap { warmup(before: $0) }))
        return plans

        func warmup(before join: Join) -> Join? {
            let candidates = keyframes.map(\.timestamp).filter { warmupSeconds.contains(Double(join.pts - $0) * timeBase) }
            guard let timestamp = candidates.max(), let found = keyframePacket(file, streamIndex: streamIndex, seek: timestamp),
                  found.order < join.order else { return nil }
            return found
        }
    }

    /// The first keyframe packet at or after an index timestamp.
    private static func keyframePacket(_ file: FormatContext, streamIndex: Int, seek: Int64) -> Join? {
        guard av_seek_frame(file.pointer, Int32(streamIndex), seek, AVSEEK_FLAG_BACKWARD) >= 0 else { return nil }
        let packet = Packet()
        for _ in 0..<1000 {
            guard file.read(into: packet) >= 0 else { return nil }
            defer { packet.unref() }
            let p = packet.pointer.pointee
            guard p.stream_index == Int32(streamIndex), p.flags & AV_PKT_FLAG_KEY != 0, p.pts != gg_av_nopts_value() else { continue }
            let order = StretchPlan.order(packet)
            if order >= seek || p.pts >= seek { return Join(seek: seek, order: order, pts: p.pts) }
        }
        return nil
    }

    /// A packet's place in decoding order: its dts, or its pts when the container gives none.
    static func order(_ packet: Packet) -> Int64 {
        packet.pointer.pointee.dts == gg_av_nopts_value() ? packet.pointer.pointee.pts : packet.pointer.pointee.dts
    }
}

/// What decoding one stretch found. The last stretch's builder stays open so that its end can
/// be set once the file's real length is known.
struct StretchResult {
    var builder: SceneBuilder
    var scenes: [Scene]
    var head: [AnalysedFrame]
    var tail: [AnalysedFrame]
    var lastTime: Double
    /// The detector's memory once the stretch's last frame was decided (nil before any was).
    var memory: CutDetector.Memory?
    var frameCount: Int
    var decodeErrors: Int
    var readStatus: Int32
    var stoppedAfterErrors: Bool
}

/// Decodes and analyses one stretch with its own demuxer and decoder.
struct StretchDecoder {
    /// Frames kept from each end of a stretch for deciding again across a join: enough for the gradual
    /// test's window and the minimum scene length after it (1 s) at 60 fps.
    static let edgeFrames = 64
    let settings: DetectorSettings
    let analysisWidth: Int
    let writer: ImageWriter
    let loopFilter: LoopFilter
    let frameDuration: Double

    func decode(path: String, streamIndex: Int, plan: StretchPlan, threads: Int32, context: StageContext,
                keyframePath: @escaping (Int) -> String) throws -> StretchResult {
        let file = try FormatContext(path: path)
        let stream = file.stream(streamIndex)
        let decoder = try MediaDecoder(stream: stream, threads: threads, loopFilter: loopFilter)
        let clock = MediaClock(file)
        let first = plan.warmup ?? plan.start
        if let first {
            let sought = av_seek_frame(file.pointer, Int32(streamIndex), first.seek, AVSEEK_FLAG_BACKWARD)
            guard sought >= 0 else { throw GGError("not_media", "cannot seek: \(avErrorString(sought))") }
        }
        let writer = self.writer
        var detector = CutDetector(settings: settings)
        var builder = SceneBuilder(fadeLevel: settings.fadeLevel, frameDuration: frameDuration, start: plan.start == nil ? 0 : nil) { frame, scene in
            let path = keyframePath(scene)
            try writer.write(frame, to: path)
            return path
        }
        builder.minSceneLength = settings.minSceneLength
        builder.flashSimilarity = settings.flashSimilarity
        let scaler = AnalysisScaler(size: analysisWidth)
        let packet = Packet()
        let frame = Frame()
        var result = StretchResult(builder: builder, scenes: [], head: [], tail: [], lastTime: 0, memory: nil, frameCount: 0,
                                   decodeErrors: 0, readStatus: 0, stoppedAfterErrors: false)
        var hsv = [UInt8]()
        let firstPTS = first?.pts, keyframePTS = plan.start?.pts, endPTS = plan.end?.pts
        let overrun = plan.end.map { $0.order + Int64(StretchPlan.overrunSeconds / max(av_q2d(stream.pointee.time_base), 1e-9)) }
        var detectorOnlyFrames = 0

        /// Frames outside the stretch (its warm-up and overrun) only feed the detector; the first frame at
        /// the join is never a cut here (StretchMerger decides the join).
        func add(_ decided: [CutDetector.Decision]) throws {
            for (frame, cut, memory) in decided where frame.index >= 0 {
                try builder.add(frame, cut: cut && frame.index > 0)
                result.memory = memory
            }
        }

        func drain() throws {
            while decoder.receive(frame) >= 0 {
                defer { frame.unref() }
                let pts = frame.pointer.pointee.best_effort_timestamp
                if let firstPTS, pts != gg_av_nopts_value(), pts < firstPTS { continue }
                if pts != gg_av_nopts_value(), pts < keyframePTS ?? .min || pts >= endPTS ?? .max {
                    let mean = try scaler.hsv(of: frame.pointer, into: &hsv)
                    let time = clock.seconds(pts, stream.pointee.time_base) ?? 0
                    detectorOnlyFrames += 1
                    try add(detector.push(AnalysedFrame(index: -detectorOnlyFrames, time: max(0, time), hsv: hsv, meanValue: mean, score: 0, payload: nil,
                                                        width: scaler.width(of: hsv))))
                    continue
                }
                let time = clock.seconds(pts, stream.pointee.time_base) ?? Double(result.frameCount) * frameDuration
                let mean = try scaler.hsv(of: frame.pointer, into: &hsv)
                var analysed = AnalysedFrame(index: result.frameCount, time: max(0, time), hsv: hsv, meanValue: mean, score: 0, payload: frame.reference(),
                                             width: scaler.width(of: hsv))
                result.frameCount += 1
                try add(detector.push(analysed))
                analysed.payload = nil
                if result.head.count < StretchDecoder.edgeFrames { result.head.append(analysed) }
                result.tail.append(analysed)
                if result.tail.count > StretchDecoder.edgeFrames { result.tail.removeFirst() }
                if result.frameCount % 64 == 0 {
                    try context.cancellation.check()
                    context.reportPosition(time, of: nil)
                }
            }
        }

        while true {
            result.readStatus = file.read(into: packet)
            if result.readStatus < 0 { break }
            defer { packet.unref() }
            guard packet.pointer.pointee.stream_index == Int32(streamIndex) else { continue }
            let order = StretchPlan.order(packet)
            if let overrun, order != gg_av_nopts_value(), order >= overrun { break }
            if let first, order != gg_av_nopts_value(), order < first.order { continue }
            let sent = decoder.send(packet)
            if sent < 0 && sent != gg_averror_eagain() {
                result.decodeErrors += 1
                if result.decodeErrors > StretchPlan.maxDecodeErrors {
                    result.stoppedAfterErrors = true
                    break
                }
            }
            try drain()
        }
        _ = decoder.send(nil)
        try drain()
        try add(detector.finish())
        result.lastTime = builder.lastTime
        if plan.end != nil {
            result.scenes = try builder.finishStretch(at: builder.lastTime + frameDuration)
        }
        result.builder = builder
        return result
    }
}

/// Joins stretches decoded apart into the scenes one pass would have found: the frames on each
/// side of a join are run through the detector together to decide whether the join is a cut,
/// and a fade through black that spans a join cuts in its middle.
struct StretchMerger {
    let settings: DetectorSettings
    let frameDuration: Double

    func merge(_ results: [StretchResult]) throws -> [Scene] {
        var scenes = results[0].scenes
        for k in results.indices.dropFirst() {
            let previous = results[k - 1], next = results[k]
            guard let boundary = next.head.first, !next.scenes.isEmpty else { continue }
            if scenes.isEmpty {
                scenes = next.scenes
                continue
            }
            scenes[scenes.count - 1].end = roundedSeconds(boundary.time)
            let cuts = decisions(previous.tail + next.head, lastCut: scenes[scenes.count - 1].start, memory: previous.memory)
            let settled = Set(next.head.dropLast(settings.lookahead + 1).map { roundedSeconds($0.time) })
            var incoming = next.scenes
            let fade = fadeCut(previous, next)
            let boundaryCuts = fade != nil || cuts[roundedSeconds(boundary.time)] == true
            // Until its first hard cut a stretch does not know where its scene began: its fade cuts are
            // kept here, in order, as the single pass would (minimum length, a bright run before).
            var lastStart = boundaryCuts ? incoming[0].start : scenes[scenes.count - 1].start
            var beforeFirstCut = true
            var i = 1
            while i < incoming.count {
                let start = incoming[i].start
                let keep: Bool
                if next.builder.fadeCuts.contains(start) {
                    keep = !beforeFirstCut || (start - lastStart >= settings.minSceneLength && fadeFollowsBrightRun(at: start, previous.tail + next.head))
                } else {
                    keep = !(settled.contains(start) && cuts[start] == false)
                    if keep { beforeFirstCut = false }
                }
                if keep {
                    lastStart = start
                    i += 1
                } else {
                    incoming[i - 1] = join(incoming[i - 1], incoming[i])
                    incoming.remove(at: i)
                }
            }
            if fade == nil, cuts[roundedSeconds(boundary.time)] != true,
               let added = missedCut(cuts, settled: settled, in: incoming[0], before: incoming.dropFirst().first?.start) {
                incoming[0].start = added
                incoming.insert(Scene(index: 0, start: roundedSeconds(boundary.time), end: added, keyframe: ""), at: 0)
            }
            if let fade {
                if fade.replacesGradualCut, scenes.count >= 2 {
                    let fadeOut = scenes.removeLast()
                    if !fadeOut.keyframe.isEmpty { unlink(fadeOut.keyframe) }
                }
                scenes[scenes.count - 1].end = roundedSeconds(fade.time)
                incoming[0].start = roundedSeconds(fade.time)
            } else if cuts[roundedSeconds(boundary.time)] != true {
                incoming[0] = join(scenes.removeLast(), incoming[0])
            }
            scenes += incoming
        }
        return scenes
    }

    /// A cut the frames seen together across a join find inside the next stretch's first scene, where
    /// the stretch itself had too little history to find it (a transition under way at the join, with no
    /// keyframe close enough before the join to warm up from). Only one whose later part holds the
    /// scene's keyframe: the part before it joins the scene before the join.
    private func missedCut(_ cuts: [Double: Bool], settled: Set<Double>, in scene: Scene, before nextCut: Double?) -> Double? {
        guard let keyframeTime = scene.keyframeTime, !scene.keyframe.isEmpty else { return nil }
        let found = cuts.filter { $0.value && settled.contains($0.key) && $0.key > scene.start && $0.key < scene.end }.keys.min()
        guard let found, keyframeTime >= found, (nextCut ?? .infinity) - found >= settings.minSceneLength else { return nil }
        return found
    }

    /// One scene covering both, keeping the keyframe of the longer part (of the one that has one).
    private func join(_ a: Scene, _ b: Scene) -> Scene {
        let aFirst = b.keyframe.isEmpty || (!a.keyframe.isEmpty && a.end - a.start >= b.end - b.start)
        let (kept, dropped) = aFirst ? (a, b) : (b, a)
        if !dropped.keyframe.isEmpty && dropped.keyframe != kept.keyframe { unlink(dropped.keyframe) }
        return Scene(index: a.index, start: a.start, end: b.end, keyframe: kept.keyframe, keyframeTime: kept.keyframeTime)
    }

    /// Cut decisions for frames seen together across a join, by rounded time, continuing from what the
    /// stretch before remembers of its last cut where that cut still starts the scene before the join.
    private func decisions(_ frames: [AnalysedFrame], lastCut: Double, memory: CutDetector.Memory?) -> [Double: Bool] {
        var detector = if let memory, roundedSeconds(memory.lastCutTime) == lastCut {
            CutDetector(settings: settings, memory: memory, continuing: true)
        } else {
            CutDetector(settings: settings, lastCutTime: lastCut, continuing: true)
        }
        var decided = [CutDetector.Decision]()
        for frame in frames { decided += detector.push(frame) }
        decided += detector.finish()
        return Dictionary(decided.map { (roundedSeconds($0.0.time), $0.1) }, uniquingKeysWith: { a, _ in a })
    }

    /// Whether the dark run around a fade cut at `time` follows a bright run of a quarter second or more
    /// (or one longer than the frames seen), as SceneBuilder requires of a fade.
    private func fadeFollowsBrightRun(at time: Double, _ frames: [AnalysedFrame]) -> Bool {
        let level = settings.fadeLevel
        guard let last = frames.last, time <= last.time + DetectorSettings.timeTolerance,
              var index = frames.lastIndex(where: { $0.time <= time + DetectorSettings.timeTolerance }) else { return true }
        while index >= 0 && frames[index].isDark(level) { index -= 1 }
        var run = 0
        while index >= 0 && !frames[index].isDark(level) {
            run += 1
            index -= 1
        }
        return index < 0 || Double(run) * frameDuration >= 0.25
    }

    /// Where a fade through black that spans the join cuts, and whether it replaces the gradual cut its
    /// fade-out made just before (see `SceneBuilder.fadeOutReach`).
    private func fadeCut(_ previous: StretchResult, _ next: StretchResult) -> (time: Double, replacesGradualCut: Bool)? {
        let level = settings.fadeLevel
        guard let boundary = next.head.first, let before = previous.tail.last else { return nil }
        let startsDark = boundary.isDark(level)
        let endsDark = before.isDark(level)
        guard startsDark || endsDark else { return nil }
        let darkStart = previous.builder.trailingDarkStart ?? boundary.time
        let darkEnd = startsDark
            ? next.builder.leadingDark?.upperBound ?? next.head.last(where: { $0.isDark(level) })?.time ?? boundary.time
            : before.time
        let brightBefore = previous.builder.endedBright
        let brightAfter = !startsDark || next.builder.leadingDark != nil
        guard brightBefore && brightAfter else { return nil }
        let cut = SceneBuilder.fadeCut(darkStart, darkEnd, frameDuration: frameDuration)
        let scenes = previous.scenes
        let replacesGradualCut = previous.builder.openedGradually && scenes.count >= 2
            && darkStart - scenes[scenes.count - 1].start <= SceneBuilder.fadeOutReach
        let sceneStart = replacesGradualCut ? scenes[scenes.count - 2].start : (scenes.last?.start ?? 0)
        guard cut - sceneStart >= settings.minSceneLength else { return nil }
        return (cut, replacesGradualCut)
    }
}
