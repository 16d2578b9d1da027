import Foundation

/// One result slot per task, filled from concurrent threads and read afterwards.
/// A lock rather than a `Mutex`: the values (decoded frames, builders holding closures) are not
/// `Sendable`, and a `Mutex` holds only values it may send between threads.
public final class ResultSlots<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Result<Value, Error>?]

    public init(count: Int) { stored = Array(repeating: nil, count: count) }

    public func set(_ index: Int, _ value: Result<Value, Error>) {
        lock.lock()
        stored[index] = value
        lock.unlock()
    }

    public func get(_ index: Int) -> Result<Value, Error>? {
        lock.lock()
        defer { lock.unlock() }
        return stored[index]
    }
}
