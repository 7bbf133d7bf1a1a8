import FastJSON

// The batch function's JSON in and out, by hand: `JSONEncoder` and `JSONDecoder` were about a
// sixth of a worker's CPU on the reserve path (encoding the operations, decoding the reply).

extension InventoryOperation {
    /// The operations as `inventory_apply` reads them: the members `JSONEncoder` wrote (nil
    /// members left out), in the same order.
    static func jsonArray(_ operations: [InventoryOperation]) -> String {
        var out = ""
        out.reserveCapacity(operations.count * 200)
        JSONWriter.appendArray(operations, to: &out) { operation, out in operation.appendJSON(to: &out) }
        return out
    }

    func appendJSON(to out: inout String) {
        out.append("{\"op\":\"")
        out.append(op.rawValue)
        out.append("\",\"holder\":")
        out.append(String(holder))
        if let key { out.append(",\"key\":"); JSONWriter.appendString(key, to: &out) }
        if let hash { out.append(",\"hash\":"); JSONWriter.appendString(hash, to: &out) }
        if let id { out.append(",\"id\":"); JSONWriter.appendString(id, to: &out) }
        if let items {
            out.append(",\"items\":")
            JSONWriter.appendArray(items, to: &out) { item, out in
                out.append("{\"c\":")
                JSONWriter.appendString(item.c, to: &out)
                out.append(",\"q\":")
                out.append(String(item.q))
                out.append("}")
            }
        }
        if let reservation { out.append(",\"reservation\":"); JSONWriter.appendString(reservation, to: &out) }
        if let orderId { out.append(",\"orderId\":"); JSONWriter.appendString(orderId, to: &out) }
        if let payment {
            out.append(",\"payment\":{\"method\":")
            JSONWriter.appendString(payment.method, to: &out)
            if let simulate = payment.simulate {
                out.append(",\"simulate\":")
                JSONWriter.appendString(simulate, to: &out)
            }
            out.append("}")
        }
        out.append("}")
    }
}

extension InventoryOutcome {
    /// An outcome as the batch function (or a stored idempotency key) writes it. Members of the
    /// wrong type are an error, unknown members are ignored: what the `Decodable` did.
    init(json: JSONValue) throws(InventoryError) {
        guard case .object = json, let status = json["status"]?.int else {
            throw InventoryJSON.malformed("an outcome without a status")
        }
        self.init(status: status)
        error = try InventoryJSON.optionalString(json["error"])
        message = try InventoryJSON.optionalString(json["message"])
        if let body = json["body"], !body.isNull { self.body = try Body(json: body) }
        replayed = try InventoryJSON.optionalBool(json["replayed"])
        if let wait = json["lockWaitMicros"], !wait.isNull {
            guard let value = wait.int64 else { throw InventoryJSON.malformed("lockWaitMicros") }
            lockWaitMicros = value
        }
        if let size = json["batchSize"], !size.isNull {
            guard let value = size.int else { throw InventoryJSON.malformed("batchSize") }
            batchSize = value
        }
        lockedClassesExhausted = try InventoryJSON.optionalBool(json["lockedClassesExhausted"])
    }

    /// The JSON of a success body, as `JSONEncoder` wrote it (declaration order, nil members
    /// left out): the reserve and confirm answers.
    public static func bodyJSON(_ body: Body) -> String {
        var out = "{"
        var first = true
        func member(_ name: String) {
            if !first { out.append(",") }
            first = false
            out.append("\"")
            out.append(name)
            out.append("\":")
        }
        if let v = body.reservationId { member("reservationId"); JSONWriter.appendString(v, to: &out) }
        if let v = body.orderId { member("orderId"); JSONWriter.appendString(v, to: &out) }
        if let v = body.status { member("status"); JSONWriter.appendString(v, to: &out) }
        if let v = body.expiresAt { member("expiresAt"); JSONWriter.appendString(v, to: &out) }
        if let items = body.items {
            member("items")
            JSONWriter.appendArray(items, to: &out) { item, out in
                out.append("{\"ticketClassId\":")
                JSONWriter.appendString(item.ticketClassId, to: &out)
                out.append(",\"quantity\":")
                out.append(String(item.quantity))
                if let seats = item.seats {
                    out.append(",\"seats\":")
                    JSONWriter.appendArray(seats, to: &out) { seat, out in JSONWriter.appendString(seat, to: &out) }
                }
                out.append("}")
            }
        }
        out.append("}")
        return out
    }
}

extension InventoryOutcome.Body {
    init(json: JSONValue) throws(InventoryError) {
        guard case .object = json else { throw InventoryJSON.malformed("body") }
        reservationId = try InventoryJSON.optionalString(json["reservationId"])
        orderId = try InventoryJSON.optionalString(json["orderId"])
        status = try InventoryJSON.optionalString(json["status"])
        expiresAt = try InventoryJSON.optionalString(json["expiresAt"])
        if let list = json["items"], !list.isNull {
            guard let elements = list.array else { throw InventoryJSON.malformed("items") }
            var items: [InventoryOutcome.ReservedItem] = []
            items.reserveCapacity(elements.count)
            for element in elements {
                guard let id = element["ticketClassId"]?.string, let quantity = element["quantity"]?.int else {
                    throw InventoryJSON.malformed("an item")
                }
                var seats: [String]?
                if let list = element["seats"], !list.isNull {
                    guard let values = list.array else { throw InventoryJSON.malformed("seats") }
                    var strings: [String] = []
                    for value in values {
                        guard let seat = value.string else { throw InventoryJSON.malformed("a seat") }
                        strings.append(seat)
                    }
                    seats = strings
                }
                items.append(.init(ticketClassId: id, quantity: quantity, seats: seats))
            }
            self.items = items
        }
    }
}

enum InventoryJSON {
    static func malformed(_ what: String) -> InventoryError {
        InventoryError(.unexpectedReply, "inventory reply: malformed \(what)")
    }

    /// A reply text the database wrote as JSON; not JSON is an unexpected reply.
    static func parse(_ text: String) throws(InventoryError) -> JSONValue {
        do { return try JSONValue.parse(text) } catch { throw malformed("JSON (\(error))") }
    }

    static func optionalString(_ value: JSONValue?) throws(InventoryError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let string = value.string else { throw malformed("string member") }
        return string
    }

    static func optionalBool(_ value: JSONValue?) throws(InventoryError) -> Bool? {
        guard let value, !value.isNull else { return nil }
        guard let bool = value.bool else { throw malformed("boolean member") }
        return bool
    }
}
