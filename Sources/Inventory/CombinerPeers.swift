import FastJSON
import Postgres

/// The worker processes of one machine, so that each lock set (an event and its sorted classes)
/// is combined by one of them: its owner.
///
/// Each process has its own combiner, and one batch per lock set is in flight per process. With
/// N processes serving a hot class, N batches queue on its row lock, each of about 1/N of the
/// operations, and each holds the lock through its commit. Measured with `bench-reserve`
/// (64 clients, one class): 1 process, batches of 35 operations, 320 µs of PostgreSQL CPU per
/// reservation; 2 processes, 23 and 470 µs; 8 processes, 6.7 and 1,265 µs, lock wait p50 7.5 ms.
/// So a process hands an operation on a lock set it does not own to the owner
/// (`owner(of:)`: a stable hash over the processes), whose combiner batches it with its own.
///
/// `send` carries a request (`CombinerWire`) to a process and returns its answer. When it fails
/// (the owner is restarting, or gone), the operation runs here: safe to repeat, since reserves
/// and confirms are keyed (a second run replays the first outcome) and releasing an ended hold
/// is a `204`. An operation the owner ran and failed (the database down, a lock timeout) fails
/// here the same way, not again.
public struct CombinerPeers: Sendable {
    public typealias Send = @Sendable (_ process: Int, _ request: String) async throws -> String

    public let index: Int
    public let count: Int
    public let send: Send

    public init(index: Int, count: Int, send: @escaping Send) {
        precondition(count > 0 && (0..<count).contains(index), "index \(index) of \(count) processes")
        self.index = index
        self.count = count
        self.send = send
    }

    /// The process that combines `lockSet`'s operations: FNV-1a over the event and class ids,
    /// the same in every process.
    public func owner(of eventID: String, classIDs: [String]) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        for byte in eventID.utf8 { mix(byte) }
        for id in classIDs {
            mix(0)
            for byte in id.utf8 { mix(byte) }
        }
        return Int(hash % UInt64(count))
    }

    func owner(of lockSet: InventoryBatcher.LockSet) -> Int {
        owner(of: lockSet.eventID, classIDs: lockSet.classIDs)
    }
}

/// The requests and answers between worker processes (JSON text; the transport frames it).
///
/// - request: `{"event": e, "classes": [c…], "op": {operation as inventory_apply reads it}}`
/// - answer: `{"outcome": {…}}`, or `{"failure": {"kind": "postgres"|"inventory"|"other",
///   "code": …, "sqlState": …, "message": …}}` when the owner's batch failed.
enum CombinerWire {
    static func request(_ operation: InventoryOperation, on lockSet: InventoryBatcher.LockSet) -> String {
        var out = "{\"event\":"
        JSONWriter.appendString(lockSet.eventID, to: &out)
        out.append(",\"classes\":")
        JSONWriter.appendArray(lockSet.classIDs, to: &out) { id, out in JSONWriter.appendString(id, to: &out) }
        out.append(",\"op\":")
        operation.appendJSON(to: &out)
        out.append("}")
        return out
    }

    static func parseRequest(_ text: String) throws(InventoryError) -> (InventoryOperation, InventoryBatcher.LockSet) {
        let json = try InventoryJSON.parse(text)
        guard let event = json["event"]?.string, let classes = json["classes"]?.array, let op = json["op"] else {
            throw InventoryJSON.malformed("combiner request")
        }
        var ids: [String] = []
        for value in classes {
            guard let id = value.string else { throw InventoryJSON.malformed("combiner request class") }
            ids.append(id)
        }
        return (try InventoryOperation(json: op), .init(eventID: event, classIDs: ids))
    }

    static func answer(_ outcome: InventoryOutcome) -> String {
        var out = "{\"outcome\":"
        outcome.appendJSON(to: &out)
        out.append("}")
        return out
    }

    static func answer(failure error: any Error) -> String {
        var out = "{\"failure\":{\"kind\":"
        if let error = error as? PostgresError {
            out.append("\"postgres\",\"code\":")
            JSONWriter.appendString(error.code.description, to: &out)
            if let state = error.sqlState { out.append(",\"sqlState\":"); JSONWriter.appendString(state, to: &out) }
            out.append(",\"message\":")
            JSONWriter.appendString(error.message, to: &out)
        } else if let error = error as? InventoryError {
            out.append("\"inventory\",\"code\":")
            JSONWriter.appendString(error.code.name, to: &out)
            out.append(",\"message\":")
            JSONWriter.appendString(error.message, to: &out)
        } else {
            out.append("\"other\",\"message\":")
            JSONWriter.appendString("\(error)", to: &out)
        }
        out.append("}}")
        return out
    }

    /// The outcome of an answer, or the owner's failure thrown as the error it was.
    static func outcome(_ text: String) throws -> InventoryOutcome {
        let json = try InventoryJSON.parse(text)
        if let outcome = json["outcome"] { return try InventoryOutcome(json: outcome) }
        guard let failure = json["failure"], let kind = failure["kind"]?.string else {
            throw InventoryJSON.malformed("combiner answer")
        }
        let message = failure["message"]?.string ?? "failed in another process"
        switch kind {
        case "postgres":
            let code = failure["code"]?.string.map(PostgresError.Code.init(named:)) ?? .server
            throw PostgresError(code: code, message: message, sqlState: failure["sqlState"]?.string)
        case "inventory":
            throw InventoryError(InventoryError.Code(name: failure["code"]?.string ?? InventoryError.Code.unexpectedReply.name), message)
        default:
            throw InventoryError(.unexpectedReply, message)
        }
    }
}

extension InventoryOperation {
    /// An operation as `appendJSON` writes it.
    init(json: JSONValue) throws(InventoryError) {
        guard let kind = json["op"]?.string.flatMap(Kind.init(rawValue:)), let holder = json["holder"]?.int64 else {
            throw InventoryJSON.malformed("operation")
        }
        self.init(op: kind, holder: holder)
        key = try InventoryJSON.optionalString(json["key"])
        hash = try InventoryJSON.optionalString(json["hash"])
        id = try InventoryJSON.optionalString(json["id"])
        if let list = json["items"], !list.isNull {
            guard let elements = list.array else { throw InventoryJSON.malformed("operation items") }
            var items: [Item] = []
            for element in elements {
                guard let c = element["c"]?.string, let q = element["q"]?.int else { throw InventoryJSON.malformed("operation item") }
                items.append(Item(c: c, q: q))
            }
            self.items = items
        }
        reservation = try InventoryJSON.optionalString(json["reservation"])
        orderId = try InventoryJSON.optionalString(json["orderId"])
        if let payment = json["payment"], !payment.isNull {
            guard let method = payment["method"]?.string else { throw InventoryJSON.malformed("operation payment") }
            self.payment = Payment(method: method, simulate: try InventoryJSON.optionalString(payment["simulate"]))
        }
    }
}

extension InventoryOutcome {
    /// The outcome with every member, as `init(json:)` reads it.
    func appendJSON(to out: inout String) {
        out.append("{\"status\":")
        out.append(String(status))
        if let error { out.append(",\"error\":"); JSONWriter.appendString(error, to: &out) }
        if let message { out.append(",\"message\":"); JSONWriter.appendString(message, to: &out) }
        if let body { out.append(",\"body\":"); out.append(Self.bodyJSON(body)) }
        if let replayed { out.append(",\"replayed\":"); out.append(replayed ? "true" : "false") }
        if let lockWaitMicros { out.append(",\"lockWaitMicros\":"); out.append(String(lockWaitMicros)) }
        if let batchSize { out.append(",\"batchSize\":"); out.append(String(batchSize)) }
        if let lockedClassesExhausted {
            out.append(",\"lockedClassesExhausted\":")
            out.append(lockedClassesExhausted ? "true" : "false")
        }
        out.append("}")
    }
}
