import Testing
@testable import LoadKit

@Suite struct JSONScanTests {
    @Test func findsUnsignedIntegers() {
        let data = Array(#"{"position":12,"etaSeconds": 3,"ts":1712345678901234}"#.utf8)
        #expect(JSONScan.unsignedInteger("ts", in: data) == 1_712_345_678_901_234)
        #expect(JSONScan.unsignedInteger("position", in: data) == 12)
        #expect(JSONScan.unsignedInteger("etaSeconds", in: data) == 3)
        #expect(JSONScan.unsignedInteger("missing", in: data) == nil)
    }

    @Test func keyMustBeFollowedByAColon() {
        let data = Array(#"{"name":"ts","ts" : 5}"#.utf8)
        #expect(JSONScan.unsignedInteger("ts", in: data) == 5)
        #expect(JSONScan.unsignedInteger("name", in: data) == nil)
    }

    @Test func findsStrings() {
        let data = Array(#"{"ticket": "abc.DEF-1_2", "state":"waiting","position":1}"#.utf8)
        #expect(JSONScan.string("ticket", in: data) == "abc.DEF-1_2")
        #expect(JSONScan.string("state", in: data) == "waiting")
        #expect(JSONScan.string("position", in: data) == nil)
    }

    @Test func rejectsOverflow() {
        #expect(JSONScan.unsignedInteger("ts", in: Array(#"{"ts":99999999999999999999999}"#.utf8)) == nil)
    }
}
