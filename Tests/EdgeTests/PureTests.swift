@testable import Edge
import NIOCore
import NIOHTTP1
import Testing

@Suite("Pure helpers")
struct PureTests {
    @Test func headerCheck() {
        #expect(HTTPHeaderCheck.isValid(["Content-Type": "application/json", "Server-Timing": "lock;dur=0.2, batch;desc=\"3\"",
                                         "X-Tab": "a\tb", "X-Obs": "café"]))
        for (name, value) in [("X-A", "a\r\nb"), ("X-A", "a\nb"), ("X-A", "a\0b"), ("X-A", "a\u{7F}"), ("", "v"),
                              ("Bad Name", "v"), ("Bad:Name", "v"), ("X\r\nY", "v")] {
            var headers = HTTPHeaders()
            headers.add(name: name, value: value)
            #expect(!HTTPHeaderCheck.isValid(headers), "\(name): \(value)")
        }
    }

    @Test func pathIDRule() {
        #expect(PathID.isValid("abc-DEF_123"))
        #expect(PathID.isValid(String(repeating: "z", count: 64)))
        #expect(!PathID.isValid(String(repeating: "z", count: 65)))
        #expect(!PathID.isValid(""))
        #expect(!PathID.isValid("a b"))
        #expect(!PathID.isValid("ü"))
        #expect(!PathID.isValid("a/b"))
    }

    @Test func queryItemsDecode() {
        let items = QueryItem.parse("a=1&b=two+words&c&d=%41%2f&e=%zz&&f=")
        #expect(items == [
            QueryItem(name: "a", value: "1"),
            QueryItem(name: "b", value: "two words"),
            QueryItem(name: "c", value: ""),
            QueryItem(name: "d", value: "A/"),
            QueryItem(name: "e", value: "%zz"),
            QueryItem(name: "f", value: ""),
        ])
    }

    @Test func targetSplitting() {
        #expect(HTTPRequest.splitTarget("/a/b?x=1") == ("/a/b", "x=1"))
        #expect(HTTPRequest.splitTarget("/a") == ("/a", nil))
        #expect(HTTPRequest.splitTarget("http://host:80/p?q") == ("/p", "q"))
        #expect(HTTPRequest.splitTarget("http://host") == ("/", nil))
    }

    @Test func errorMappingHappensInOnePlace() {
        #expect(HTTPError(mapping: HTTPError.notFound()).status == .notFound)
        let domain = HTTPError(mapping: DependencyDownError())
        #expect(domain.status == .serviceUnavailable)
        #expect(domain.code == .dependencyUnavailable)
        #expect(domain.headers.first(name: "retry-after") == "7")
        let unknown = HTTPError(mapping: SecretInternalError())
        #expect(unknown.status == .internalServerError)
        #expect(unknown.code == .internalError)
        #expect(!unknown.message.contains("hunter2"))
    }

    @Test func errorBodyIsEscapedJSON() {
        let body = JSONText.errorBody(code: "bad_request", message: "a \"quoted\"\nline\u{1}")
        #expect(body == #"{"error":{"code":"bad_request","message":"a \"quoted\"\nline\u0001"}}"#)
        let response = HTTPResponse.error(.methodNotAllowed(allowed: [.GET, .HEAD]))
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers.first(name: "allow") == "GET, HEAD")
        #expect(response.headers.first(name: "content-type") == "application/json")
    }

    @Test func readinessMessages() {
        var report = ReadinessReport(results: [("redis", .failed("x")), ("postgres", .ok)])
        #expect(report.failureMessage == "redis is down")
        #expect(!report.isReady)
        report.results = [("redis", .timedOut), ("postgres", .failed("y")), ("s3", .failed("z"))]
        #expect(report.failureMessage == "redis, postgres and s3 are down")
        report.results = [("redis", .ok)]
        #expect(report.isReady)
    }

    @Test func readinessProbeCutsHangingChecks() async {
        let probe = ReadinessProbe(checks: [
            ReadinessCheck(name: "fast") {},
            ReadinessCheck(name: "throws") { throw SecretInternalError() },
            ReadinessCheck(name: "hangs", timeout: .milliseconds(200)) {
                // Ignores cancellation entirely: must be abandoned, not awaited.
                await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
            },
        ])
        let start = ContinuousClock.now
        let report = await probe.run()
        // The hanging check never ends: any bound proves it was abandoned (margin for 2 busy cores).
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(report.results.map(\.name) == ["fast", "throws", "hangs"])
        #expect(report.results.map(\.outcome.word) == ["ok", "down", "timeout"])
    }

    @Test func chunkFramingUsesTheHeadroomOrANewBuffer() {
        let handler = HTTPStreamHandler(stream: HTTPResponseStream { _ in }, chunked: true)
        var roomy = handler.makeBuffer(allocator: ByteBufferAllocator(), capacity: 300)
        roomy.writeString(String(repeating: "x", count: 300))
        HTTPStreamHandler.frame(&roomy)
        #expect(String(buffer: roomy) == "12c\r\n" + String(repeating: "x", count: 300) + "\r\n")
        var plain = ByteBuffer(string: "data: 1\n\n")
        HTTPStreamHandler.frame(&plain)
        #expect(String(buffer: plain) == "9\r\ndata: 1\n\n\r\n")
    }
}
