import Foundation

/// Limits every stage that decodes media applies, set once from its options at start.
public enum MediaLimits {
    /// Largest picture (width x height) a decoder may produce: `--max-pixels`.
    nonisolated(unsafe) public static var maxPixels = 50_000_000

    /// The demuxers media is opened with: containers of video, audio and pictures people post. Nothing
    /// else is probed (libgme, for one, inflated a 1 MB gzip of zeros into gigabytes).
    public static let formats = ["mov", "mp4", "matroska", "webm", "mpegts", "flv", "avi", "mpeg", "asf", "m4v",
                                 "wav", "w64", "flac", "mp3", "aac", "ogg", "aiff", "amr", "caf",
                                 "image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif", "gif_pipe",
                                 "pgm_pipe", "ppm_pipe", "pam_pipe", "jpegls_pipe"].joined(separator: ",")

    /// Sample rates and channel counts real audio has: a header claiming 1 Hz made 150 KB a 21-hour track.
    public static let sampleRates: ClosedRange<Int32> = 4000...768_000
    public static let channels: ClosedRange<Int32> = 1...64

    /// The `--max-pixels` option of every stage that decodes pictures.
    public static let maxPixelsOption = OptionSpec("--max-pixels", value: "N", default: "50000000",
                                                   "refuse pictures larger than N pixels (pixel bombs): error 'too_many_pixels'")

    /// Sets `maxPixels` from the stage's options.
    public static func configure(_ options: ParsedOptions) {
        maxPixels = options.int("--max-pixels", default: 50_000_000, min: 1, max: 1 << 40)
    }

    /// Throws `too_many_pixels` for pictures over `maxPixels`.
    public static func checkPicture(width: Int32, height: Int32) throws {
        guard Int(width) * Int(height) <= maxPixels else {
            throw GGError("too_many_pixels", "\(width)x\(height) pictures exceed --max-pixels \(maxPixels)")
        }
    }
}

