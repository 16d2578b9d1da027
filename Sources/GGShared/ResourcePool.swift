import Foundation

/// At most `size` expensive objects (OCR or speech engines), created on first use and
/// lent to one thread at a time.
public final class ResourcePool<Resource>: @unchecked Sendable {
    private let condition = NSCondition()
    private var idle: [Resource] = []
    private var created = 0
    private let size: Int
    private let factory: () throws -> Resource

    public init(size: Int, factory: @escaping () throws -> Resource) {
        self.size = max(1, size)
        self.factory = factory
    }

    public func with<T>(_ body: (Resource) throws -> T) throws -> T {
        let resource = try acquire()
        defer { release(resource) }
        return try body(resource)
    }

    private func acquire() throws -> Resource {
        condition.lock()
        while idle.isEmpty && created >= size { condition.wait() }
        if let ready = idle.popLast() {
            condition.unlock()
            return ready
        }
        created += 1
        condition.unlock()
        do {
            return try factory()
        } catch {
            condition.lock()
            created -= 1
            condition.signal()
            condition.unlock()
            throw error
        }
    }

    private func release(_ resource: Resource) {
        condition.lock()
        idle.append(resource)
        condition.signal()
        condition.unlock()
    }
}
