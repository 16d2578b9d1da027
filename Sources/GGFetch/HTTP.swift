import CCurl
import GGShared
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Limits every HTTP transfer obeys.
struct HTTPLimits: Sendable {
    var maxBytes: Int
    var connectTimeout: Double
    var totalTimeout: Double
    var maxRedirects: Int
    var retries: Int
    var retryDelay: Double
    var userAgent: String
    var addresses = AddressPolicy()
}

/// A finished download.
struct Download: Sendable {
    var bytes: Int
    var contentType: String?
}

/// An owned libcurl easy handle.
final class CurlEasy {
    let handle: UnsafeMutableRawPointer

    init() throws {
        guard let handle = curl_easy_init() else { throw GGError("internal", "curl_easy_init failed") }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    func set(_ option: CURLoption, _ value: Int) { _ = gg_curl_setopt_long(handle, option, value) }
    func set(_ option: CURLoption, _ value: String) { _ = gg_curl_setopt_string(handle, option, value) }

    func responseCode() -> Int {
        var code = 0
        _ = gg_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    /// A copy of a string the handle owns.
    func string(_ info: CURLINFO) -> String? {
        var pointer: UnsafeMutablePointer<CChar>?
        guard gg_curl_getinfo_string(handle, info, &pointer) == CURLE_OK, let pointer else { return nil }
        return String(cString: pointer)
    }
}

/// An owned curl header list.
final class CurlHeaders {
    private(set) var list: UnsafeMutablePointer<curl_slist>?

    init(_ headers: [String: String]) {
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) where !name.contains("\n") && !value.contains("\n") {
            list = curl_slist_append(list, "\(name): \(value)")
        }
    }

    deinit { curl_slist_free_all(list) }
}

/// Where a transfer's body goes, with the byte limit enforced as it arrives.
final class DownloadSink {
    let file: FileDescriptor
    let limit: Int
    var bytes = 0
    var exceeded = false
    var writeFailed = false
    let cancellation: Cancellation?

    init(file: FileDescriptor, limit: Int, cancellation: Cancellation?) {
        self.file = file
        self.limit = limit
        self.cancellation = cancellation
    }
}

private let writeCallback: gg_curl_write_fn = { data, size, count, userdata in
    let sink = Unmanaged<DownloadSink>.fromOpaque(userdata!).takeUnretainedValue()
    let length = size * count
    if sink.bytes + length > sink.limit {
        sink.exceeded = true
        return 0
    }
    guard sink.file.writeAll(UnsafeRawBufferPointer(start: data, count: length)) else {
        sink.writeFailed = true
        return 0
    }
    sink.bytes += length
    return length
}

private let progressCallback: gg_curl_xferinfo_fn = { userdata, _, _, _, _ in
    let sink = Unmanaged<DownloadSink>.fromOpaque(userdata!).takeUnretainedValue()
    return sink.cancellation?.isCancelled == true ? 1 : 0
}

/// Downloads http and https URLs with libcurl, retrying transient failures with backoff.
struct HTTPClient: Sendable {
    let limits: HTTPLimits

    static func globalInit() { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }

    static var version: String { String(cString: curl_version()) }

    /// Downloads `url` into `destination` (replaced on every attempt).
    func download(_ url: String, to destination: URL, headers: [String: String] = [:], cancellation: Cancellation? = nil) throws -> Download {
        var attempt = 0
        while true {
            do {
                return try downloadOnce(url, to: destination, headers: headers, cancellation: cancellation)
            } catch let error as GGError where error.retryable && attempt < limits.retries && cancellation?.isCancelled != true {
                let delay = limits.retryDelay * pow(2, Double(attempt))
                attempt += 1
                usleep(UInt32(min(delay, 30) * 1_000_000))
            }
        }
    }

    private func downloadOnce(_ url: String, to destination: URL, headers: [String: String], cancellation: Cancellation?) throws -> Download {
        let file = try FileDescriptor.open(destination.path, O_WRONLY | O_CREAT | O_TRUNC)
        let sink = DownloadSink(file: file, limit: limits.maxBytes, cancellation: cancellation)
        let easy = try CurlEasy()
        let headerList = CurlHeaders(headers)
        easy.set(CURLOPT_URL, url)
        easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        easy.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        easy.set(CURLOPT_FOLLOWLOCATION, 1)
        easy.set(CURLOPT_MAXREDIRS, limits.maxRedirects)
        easy.set(CURLOPT_NOSIGNAL, 1)
        easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(limits.connectTimeout * 1000))
        easy.set(CURLOPT_TIMEOUT_MS, Int(limits.totalTimeout * 1000))
        easy.set(CURLOPT_MAXFILESIZE_LARGE, limits.maxBytes)
        easy.set(CURLOPT_USERAGENT, limits.userAgent)
        easy.set(CURLOPT_NOPROGRESS, 0)
        if let list = headerList.list { _ = gg_curl_setopt_slist(easy.handle, CURLOPT_HTTPHEADER, list) }
        let policy = limits.addresses.makeCPolicy()
        defer { policy.deallocate() }
        _ = gg_curl_set_socket_policy(easy.handle, policy)
        _ = gg_curl_setopt_write(easy.handle, writeCallback)
        _ = gg_curl_setopt_xferinfo(easy.handle, progressCallback)
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        _ = gg_curl_setopt_pointer(easy.handle, CURLOPT_WRITEDATA, unmanaged.toOpaque())
        _ = gg_curl_setopt_pointer(easy.handle, CURLOPT_XFERINFODATA, unmanaged.toOpaque())
        let result = curl_easy_perform(easy.handle)
        let status = easy.responseCode()
        let contentType = easy.string(CURLINFO_CONTENT_TYPE)
        if policy.pointee.blocked != 0 {
            throw AddressPolicy.forbidden(url, address: withUnsafeBytes(of: policy.pointee.blocked_address) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            })
        }
        if sink.exceeded || result == CURLE_FILESIZE_EXCEEDED {
            throw GGError("too_large", "\(url): larger than --max-bytes \(limits.maxBytes)")
        }
        if sink.writeFailed { throw GGError("io", "cannot write \(destination.path)") }
        if result == CURLE_ABORTED_BY_CALLBACK, let cancellation, cancellation.isCancelled { throw cancellation.error }
        if result != CURLE_OK {
            let message = "\(url): \(String(cString: curl_easy_strerror(result)))"
            switch result {
            case CURLE_UNSUPPORTED_PROTOCOL:
                throw GGError("unsupported_url", message + " (only http and https are followed)")
            case CURLE_TOO_MANY_REDIRECTS:
                throw GGError("too_many_redirects", message)
            case CURLE_OPERATION_TIMEDOUT:
                throw GGError("timeout", message, retryable: true)
            case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR, CURLE_HTTP2, CURLE_HTTP2_STREAM:
                throw GGError("network", message, retryable: true)
            default:
                throw GGError("network", message)
            }
        }
        if status >= 500 || status == 429 || status == 408 {
            throw GGError("http_error", "\(url): HTTP \(status)", retryable: true, httpStatus: status)
        }
        if status >= 400 { throw GGError("http_error", "\(url): HTTP \(status)", httpStatus: status) }
        return Download(bytes: sink.bytes, contentType: contentType)
    }
}
