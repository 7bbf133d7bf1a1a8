import Testing

@testable import WaitroomApp

@Suite("Queue presenter")
struct QueuePresenterTests {
    @Test(arguments: [nil, 0, 7, 99_999_999, 100_000_000, 100_000_001, 1_795_750_428_912_813, 1_795_750_400_000_013] as [Int64?])
    func positionJSONMatchesTheContract(ts: Int64?) {
        let tail = ts.map { ",\"ts\":\($0)" } ?? ""
        #expect(QueuePresenter.positionJSON(position: 12, eta: 3, ts: ts) == "{\"position\":12,\"etaSeconds\":3\(tail)}")
        #expect(QueuePresenter.positionJSON(position: 1, eta: nil, ts: ts) == "{\"position\":1,\"etaSeconds\":null\(tail)}")
    }

    /// Every digit count and both signs, at the widest (the capacity written into is fixed).
    @Test(arguments: [0, 9, 10, 1_000_000, Int.max, -1, -10, Int.min])
    func positionJSONWritesEveryNumberAsDecimal(value: Int) {
        #expect(QueuePresenter.positionJSON(position: value, eta: value, ts: Int64(value))
                == "{\"position\":\(value),\"etaSeconds\":\(value),\"ts\":\(value)}")
    }
}
