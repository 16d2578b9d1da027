/// Every tuning constant of gg-ocr, with its unit and what it trades. `gg-ocr --print-settings` lists them with the
/// options' values; docs/stages/ocr.md tells the passes they steer. "Glyph heights" are multiples of a line's typical
/// glyph height; confidences are Tesseract's word confidences (0-100).
struct OCRSettings: Sendable {
    var lines = LineFinding()
    var marks = Marks()
    var rendering = Rendering()
    var passes = Passes()
    var scripts = Scripts()

    /// How `CaptionLines` finds rows of glyph-shaped blobs in a thresholded picture.
    struct LineFinding: SettingsGroup {
        /// Grey levels of bright glyphs (white or yellow fill, usually outlined or shadowed): a wider range finds
        /// dimmer captions and more background.
        var brightGlyphs: ClosedRange<UInt8> = 190...255
        /// Grey levels of dark glyphs (on a light box or page).
        var darkGlyphs: ClosedRange<UInt8> = 0...70
        /// Blobs per pixel beyond which a picture is texture (cellular automata, foliage, noise): Tesseract's page
        /// layout analysis, which its cancel hook cannot stop, took 4-30 s on such pictures (about 0.08) against
        /// under 0.6 s up to 0.05. Texture skips the whole-picture passes and other scripts.
        var textureDensity = 0.06
        /// Shortest glyph, in pixels and as a share of the picture's height (the larger wins): lower finds small
        /// print and more specks.
        var minGlyphPixels = 8
        var minGlyphShare = 0.012
        /// Tallest glyph as a share of the picture's height: taller blobs are scenery, or `outreaching` glyphs.
        var maxGlyphShare = 0.15
        /// Widest glyph, in its own heights: joined letters pass, bars do not.
        var maxGlyphWidth = 2.5
        /// Share of its box a glyph fills (strokes, not specks or slabs); a fuller blob passes when it is at least
        /// `solidGlyphTallness` times as tall as wide (I, l, 1).
        var glyphFill: ClosedRange<Double> = 0.12...0.95
        var solidGlyphTallness = 3
        /// Widest gap from a line to its next glyph, in glyph heights: wider joins words set farther apart, and
        /// separate captions side by side.
        var maxGlyphGap = 1.2
        /// How far left of the line's right edge its next glyph may start (kerning, italics), in glyph heights.
        var glyphOverhang = 0.1
        /// How far a glyph's centre may lie from the line's, in glyph heights.
        var maxCentreShift = 0.35
        /// A glyph's height against the line's mean glyph height, exclusive bounds.
        var minHeightRatio = 0.5
        var maxHeightRatio = 2.0
        /// A line has at least `minLineGlyphs` glyphs on its baseline, and they are `minAlignedShare` of its blobs.
        var minLineGlyphs = 3
        var minAlignedShare = 0.6
        /// A glyph is on the baseline when its bottom is within `baselineTolerance` glyph heights of it and its
        /// height within `alignedHeight` glyph heights.
        var baselineTolerance = 0.15
        var alignedHeight: ClosedRange<Double> = 0.7...1.45
        /// A blob too tall for a glyph belongs to a line when it reaches below the baseline from the cap height (J,
        /// Q, р in large print on a small picture): `outreachingHeight` glyph heights tall, its top within
        /// `outreachingTop` of the line's, at most `outreachingWidth` wide, within `maxGlyphGap` of the line.
        var outreachingHeight: ClosedRange<Double> = 1.05...1.6
        var outreachingTop = 0.15
        var outreachingWidth = 1.5
        /// Lines on one row join (a glyph lost to the background splits a line) when their baselines are within
        /// `rowBaselineTolerance`, their glyph heights within `rowHeightTolerance` and their gap at most `rowGap`
        /// glyph heights.
        var rowBaselineTolerance = 0.2
        var rowHeightTolerance = 0.25
        var rowGap = 3.0
        /// Lines from the two thresholds are the same text when they share more than this share of the smaller
        /// one's box; the one read worse is dropped.
        var lineOverlap = 0.5
    }

    /// Which small blobs near a line are part of it: dots, accents and punctuation (`TextLine.includes`).
    struct Marks: SettingsGroup {
        /// Any blob considered is at most `maxBlobHeight` glyph heights tall and `minArea` squared glyph heights large.
        var maxBlobHeight = 1.3
        var minArea = 0.015
        /// A mark is small and solid: at most `maxHeight` glyph heights, filling `minFill` of its box, at most
        /// `maxWidthRatio` times as wide as tall and `maxTallness` times as tall as wide.
        var maxHeight = 0.45
        var minFill = 0.55
        var maxWidthRatio = 2
        var maxTallness = 3
        /// A mark over a glyph (the dot of an i, an accent) overlaps `minOverGlyph` of its own width and sits at most
        /// `maxAbove` glyph heights above it.
        var minOverGlyph = 0.5
        var maxAbove = 0.45
        /// A mark on the baseline (a full stop, a comma) ends within `baselineTolerance` glyph heights of it and at
        /// most `maxGap` glyph heights from a glyph.
        var baselineTolerance = 0.2
        var maxGap = 0.3
    }

    /// How a line is drawn alone for Tesseract (`CaptionLines.render`).
    struct Rendering: SettingsGroup {
        /// Margin around the line, in glyph heights, at least `minPad` pixels.
        var pad = 0.3
        var minPad = 4
        /// Glyph height, in pixels, the line is scaled to (Tesseract reads 30-40 px best), within `scaleRange`;
        /// a scale within `unscaledTolerance` of 1 is left alone.
        var glyphPixels = 40.0
        var scaleRange: ClosedRange<Double> = 0.5...4
        var unscaledTolerance = 0.05
        /// A glyph merged with a bright or dark area beyond the line (a tight caption box over a yellow wall) is
        /// carved out of that area's blob along the line's rows when the piece is `carvedHeight` glyph heights
        /// tall and `carvedWidth` wide, fills `carvedFill` of its box, ends within `carvedBaseline` of the
        /// baseline, overlaps no glyph by more than `carvedOverlap`, and touches the rest of its blob on at most
        /// `carvedContact` of its width at its top and bottom rows.
        var carvedHeight: ClosedRange<Double> = 0.8...1.3
        var carvedWidth: ClosedRange<Double> = 0.3...1.6
        var carvedFill: ClosedRange<Double> = 0.15...0.85
        var carvedBaseline = 0.15
        var carvedOverlap = 0.1
        var carvedContact = 0.4
    }

    /// The passes over a picture and when a reading is good enough (`TextReader.recognize`).
    struct Passes: SettingsGroup {
        /// The whole-picture passes enlarge a picture whose short side is under `enlargedShortSide` pixels to
        /// it, by at most `maxEnlargement`: small pictures read better, larger ones cost more.
        var enlargedShortSide = 720.0
        var maxEnlargement = 3.0
        /// What a reading is estimated to cost, in CPU seconds, for a picture's budget: `megapixelSeconds` per
        /// megapixel it is given (page layout) and `wordSeconds` per word Tesseract recognises. Fitted to English
        /// sparse-text readings of drawn seeds 1-5 (0.06 s and 5.6 ms, correlation 0.99); page layout of texture
        /// costs up to five times its estimate, which is why texture is not read as a page.
        var megapixelSeconds = 0.06
        var wordSeconds = 0.006
        /// A threshold's caption lines are given up after this many unreadable ones in a row.
        var maxUnreadableLines = 4
        /// Resolution Tesseract is told a picture has, in dots per inch (it sizes its filters by it).
        var sourceResolution: Int32 = 300
        /// A reading is confident, and needs no further pass, when every word is read at `confidentWord` or over.
        var confidentWord = 80.0
        /// A caption line read alone is kept at a mean confidence of `lineConfidence` or over.
        var lineConfidence = 70.0
        /// Characters read under `doubtfulConfidence` count against a reading when readings are compared.
        var doubtfulConfidence = 60.0
        /// OSD's confidence in a turn at which a picture read without confidence is turned upright and read again
        /// (about 2 on a turned page of two lines, under 1 on video captions).
        var minOrientationConfidence = 1.0
        /// Glyph-like blobs OSD needs to tell a picture's orientation (with two, it turned a page of Latin print
        /// a quarter turn the wrong way).
        var orientationGlyphs = 5
    }

    /// When a line or a picture is read in another script than the primary language's (`--lang auto`).
    struct Scripts: SettingsGroup {
        /// How much better another script's reading must be (`TextReader.readsBetter`) to replace the primary one's.
        var margin = 1.1
        /// A word of two characters or more is unread under `unreadConfidence`, or, when its letters are not in the
        /// primary language's dictionary, under `unknownWordConfidence` (English reads Cyrillic "Новости дня" as
        /// "HOBOCTU AHA" at 74).
        var unreadConfidence = 50.0
        var unknownWordConfidence = 85.0
        /// A word in the dictionary, of `knownWordLetters` letters or more, read at `knownWordConfidence` or over,
        /// is evidence of Latin text: its line is not tried in other scripts.
        var knownWordConfidence = 90.0
        var knownWordLetters = 4
        /// Other scripts are tried on a row when its unread words span `unreadShare` of it; a script's reading
        /// must span `readShare` of the row with `minCharacters` characters.
        var unreadShare = 1.0 / 3
        var readShare = 0.25
        var minCharacters = 2
        /// Lines read with other scripts' models per picture, at most: that time is not charged to the picture's
        /// budget (English captions never pay it), so it is bounded here.
        var maxReads = 40
        /// An unread row is read with a margin of `rowPad` of its height.
        var rowPad = 0.5
        /// Glyph-like blobs Tesseract's script detection needs at least (its default, 50, is more than a caption has):
        /// Devanagari and Bengali join each word's letters under one headline, so a caption of two words is two blobs.
        var detectionGlyphs = 2
    }
}

/// A group of settings, listed under its name.
protocol SettingsGroup: Sendable {}

/// The settings gg-ocr reads with: none of them is an option.
let settings = OCRSettings()

extension OCRSettings {
    /// Every setting, one `group.name = value` line each.
    var listing: String {
        func lines(_ value: Any, prefix: String) -> [String] {
            Mirror(reflecting: value).children.flatMap { child -> [String] in
                guard let label = child.label else { return [] }
                if child.value is SettingsGroup { return lines(child.value, prefix: prefix + label + ".") }
                return ["\(prefix)\(label) = \(child.value)"]
            }
        }
        return lines(self, prefix: "").joined(separator: "\n") + "\n"
    }
}
