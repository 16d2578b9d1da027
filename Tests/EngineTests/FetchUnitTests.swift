import XCTest
@testable import GGFetch

/// gg-fetch's address policy on IP literals (no name lookups, no connections).
final class FetchUnitTests: XCTestCase {
    func refuses(_ policy: AddressPolicy, _ url: String) -> Bool {
        do { try policy.check(url: url); return false } catch { return true }
    }

    func testPrivateLocalAndMetadataAddressesAreRefusedAndPublicOnesAllowed() throws {
        let policy = try AddressPolicy(denyPrivate: true, allowHosts: nil)
        for url in ["http://127.0.0.1/", "http://10.1.2.3/x", "http://172.16.0.9/", "http://192.168.1.1:8080/", "http://169.254.169.254/latest",
                    "http://[::1]/", "http://[fd00::1]/", "http://[fe80::1]/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
                    "http://100.64.0.1/", "http://224.0.0.1/"] {
            XCTAssertTrue(refuses(policy, url), url)
        }
        for url in ["https://93.184.216.34/", "http://8.8.8.8:8080/", "https://[2606:4700::1111]/"] {
            XCTAssertFalse(refuses(policy, url), url)
        }
        XCTAssertFalse(refuses(try AddressPolicy(denyPrivate: false, allowHosts: nil), "http://127.0.0.1/"), "the policy is off")
    }

    func testAllowHostPermitsOnlyItsPortsAndAddress() throws {
        let onePort = try AddressPolicy(denyPrivate: true, allowHosts: "127.0.0.1:8080")
        XCTAssertFalse(refuses(onePort, "http://127.0.0.1:8080/a"))
        XCTAssertTrue(refuses(onePort, "http://127.0.0.1:8081/a"))
        XCTAssertTrue(refuses(onePort, "http://127.0.0.2:8080/a"))
        let webPorts = try AddressPolicy(denyPrivate: true, allowHosts: "10.0.0.5")
        XCTAssertFalse(refuses(webPorts, "http://10.0.0.5/"))
        XCTAssertFalse(refuses(webPorts, "https://10.0.0.5/"))
        XCTAssertTrue(refuses(webPorts, "http://10.0.0.5:22/"))
        let anyPort = try AddressPolicy(denyPrivate: true, allowHosts: "[::1]:*")
        XCTAssertFalse(refuses(anyPort, "http://[::1]:5000/"))
    }

    func testAllowHostEntriesAreParsedOrRefused() {
        XCTAssertEqual(AddressPolicy.hostAndPort("example.org:8443").map { "\($0.0) \($0.1)" }, "example.org 8443")
        XCTAssertEqual(AddressPolicy.hostAndPort("[::1]:*").map { "\($0.0) \($0.1)" }, "::1 \(AddressPolicy.anyPort)")
        XCTAssertEqual(AddressPolicy.hostAndPort("10.0.0.5").map { "\($0.0) \($0.1)" }, "10.0.0.5 \(AddressPolicy.webPorts)")
        for bad in ["host:0", "host:70000", "host:x", "[::1", "[::1]x", ":80"] {
            XCTAssertNil(AddressPolicy.hostAndPort(bad), bad)
        }
        XCTAssertThrowsError(try AddressPolicy(denyPrivate: true, allowHosts: "host:99999"))
    }
}
