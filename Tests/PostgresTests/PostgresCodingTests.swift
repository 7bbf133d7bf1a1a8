import Foundation
@testable import Postgres
import Testing

@Suite("Text coding (no server)")
struct PostgresCodingTests {
    @Test func dateFormatAndParseRoundTrip() throws {
        let date = Date(timeIntervalSince1970: 1_714_566_896.123456)
        let text = PostgresDateCoding.format(date)
        #expect(text == "2024-05-01T12:34:56.123456Z")
        let back = try #require(PostgresDateCoding.parse(text))
        #expect(abs(back.timeIntervalSince1970 - date.timeIntervalSince1970) < 0.000002)
    }

    @Test func parsesServerStyles() throws {
        let utc = try #require(PostgresDateCoding.parse("2024-05-01 12:34:56.5+00"))
        #expect(utc.timeIntervalSince1970 == 1_714_566_896.5)
        let offset = try #require(PostgresDateCoding.parse("2024-05-01 14:34:56+02:00"))
        #expect(offset.timeIntervalSince1970 == 1_714_566_896)
        let beforeEpoch = try #require(PostgresDateCoding.parse("1969-12-31 23:59:59+00"))
        #expect(beforeEpoch.timeIntervalSince1970 == -1)
        #expect(PostgresDateCoding.parse("infinity") == .distantFuture)
        #expect(PostgresDateCoding.parse("yesterday") == nil)
        #expect(PostgresDateCoding.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59.000000Z")
    }

    @Test func byteaAndScalars() throws {
        #expect(PostgresValue.bytes([0, 0xAB, 0xFF]).wire.text == "\\x00abff")
        #expect(try [UInt8].decode(postgresText: "\\x00abff") == [0, 0xAB, 0xFF])
        #expect(throws: PostgresError.self) { try [UInt8].decode(postgresText: "\\x0") }
        #expect(try Bool.decode(postgresText: "t"))
        #expect(try Double.decode(postgresText: "-Infinity") == -.infinity)
        #expect(try Int?.decode(postgresText: nil) == nil)
        #expect(throws: PostgresError.self) { try Int.decode(postgresText: nil) }
        #expect(throws: PostgresError.self) { try Int.decode(postgresText: "12x") }
    }
}
