import Foundation
import Inventory
import WaitroomApp
import Yams

/// An event file for `waitroomd admin event apply`: the body of `PUT /v1/admin/events/{id}` in
/// YAML or JSON, with an optional `id` (else `--event` names the event). Checked here with the
/// server's own rules, and for fields the server does not know (a misspelt optional field would
/// otherwise be dropped without a word).
public struct EventFile: Sendable, Equatable {
    public enum Format: String, Sendable { case yaml, json }

    /// The event the file defines (`--event` wins over the file's `id`).
    public var eventID: String
    /// What is sent.
    public var body: AdminEventBody
    /// The event as the server will read it (already validated).
    public var definition: EventDefinition

    /// Reads and checks the file at `path` (`-` is standard input).
    public static func load(path: String, eventID: String?) throws(AdminError) -> EventFile {
        let data: Data
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AdminError(.invalidFile, "cannot read \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw AdminError(.invalidFile, "\(path) is not UTF-8 text")
        }
        do {
            return try parse(text, format: format(path: path, text: text), eventID: eventID)
        } catch {
            throw AdminError(.invalidFile, "\(path): \(error.message)")
        }
    }

    /// `.json` and `.yaml`/`.yml` by extension; otherwise JSON when the text starts with `{`.
    public static func format(path: String, text: String) -> Format {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "json": return .json
        case "yaml", "yml": return .yaml
        default: return text.first(where: { !$0.isWhitespace }) == "{" ? .json : .yaml
        }
    }

    /// Checks `text` and makes the request of it.
    public static func parse(_ text: String, format: Format, eventID: String?) throws(AdminError) -> EventFile {
        let tree: Any?
        do {
            switch format {
            case .json: tree = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            case .yaml: tree = try Yams.load(yaml: text)
            }
        } catch {
            throw AdminError(.invalidFile, "not valid \(format.rawValue.uppercased()): \(Self.syntaxMessage(error))")
        }
        guard let top = tree.flatMap(Self.mapping) else {
            throw AdminError(.invalidFile, "the file must hold one mapping (name, ticketClasses, admission, …)")
        }
        if let unknown = Self.unknownFields(top).first {
            throw AdminError(.invalidFile, "unknown field '\(unknown)'")
        }
        struct Identified: Decodable { var id: String? }
        let body: AdminEventBody
        let fileID: String?
        do {
            switch format {
            case .json:
                body = try JSONDecoder().decode(AdminEventBody.self, from: Data(text.utf8))
                fileID = try JSONDecoder().decode(Identified.self, from: Data(text.utf8)).id
            case .yaml:
                body = try YAMLDecoder().decode(AdminEventBody.self, from: text)
                fileID = try YAMLDecoder().decode(Identified.self, from: text).id
            }
        } catch let error as DecodingError {
            throw AdminError(.invalidFile, Self.describe(error))
        } catch {
            throw AdminError(.invalidFile, "\(error)")
        }
        guard let id = eventID ?? fileID else {
            throw AdminError(.invalidFile, "no event id: put `id: <event>` in the file or pass --event ID")
        }
        guard EventDefinition.isValidID(id) else {
            throw AdminError(.invalidFile, "event id '\(id)' must match [A-Za-z0-9_-]{1,64}")
        }
        do {
            return EventFile(eventID: id, body: body, definition: try body.definition(id: id))
        } catch {
            throw AdminError(.invalidFile, error.message)
        }
    }

    /// The file for an event as the server has it (what `event get --yaml` prints); `parse`
    /// reads it back to the same event.
    public static func yaml(_ event: EventDefinition) throws(AdminError) -> String {
        do {
            let text = try YAMLEncoder().encode(AdminEventBody(event))
            // Yams writes a Double in scientific notation (`5e+0`); the file is for people.
            return "id: \(event.id)\n" + text.replacingOccurrences(
                of: "ratePerSecond: [^\n]*", with: "ratePerSecond: \(event.admission.ratePerSecond)", options: .regularExpression)
        } catch {
            throw AdminError(.badResponse, "cannot write the event as YAML: \(error)")
        }
    }

    // MARK: Field checks

    private static let known: [String: Set<String>] = [
        "": ["id", "name", "opensAt", "ticketClasses", "admission"],
        "ticketClasses": ["id", "name", "capacity", "priceCents", "seating"],
        "seating": ["row", "seats"],
        "admission": ["ratePerSecond", "maxActive", "sessionSeconds"],
    ]

    /// Paths of the fields of `top` that an event does not have, e.g. `ticketClasses[1].price`.
    static func unknownFields(_ top: [String: Any]) -> [String] {
        var found: [String] = []
        func visit(_ map: [String: Any], kind: String, path: String) {
            for key in map.keys.sorted() where !(known[kind] ?? []).contains(key) {
                found.append(path.isEmpty ? key : "\(path).\(key)")
            }
            for (key, value) in map where known[key] != nil {
                let here = path.isEmpty ? key : "\(path).\(key)"
                if let child = mapping(value) {
                    visit(child, kind: key, path: here)
                } else if let list = value as? [Any] {
                    for (i, element) in list.enumerated() {
                        if let child = mapping(element) { visit(child, kind: key, path: "\(here)[\(i)]") }
                    }
                }
            }
        }
        visit(top, kind: "", path: "")
        return found
    }

    /// A JSON object or YAML mapping with string keys.
    private static func mapping(_ value: Any) -> [String: Any]? {
        if let map = value as? [String: Any] { return map }
        guard let map = value as? [AnyHashable: Any] else { return nil }
        return Dictionary(map.map { ("\($0.key.base)", $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    private static func syntaxMessage(_ error: any Error) -> String {
        if let yaml = error as? YamlError { return "\(yaml)".replacingOccurrences(of: "\n", with: " ") }
        return (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
    }

    /// `missing field 'admission.maxActive'`, `field 'ticketClasses[0].capacity' must be a whole number`, …
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce("") { text, key in
                if let i = key.intValue, key.stringValue.hasPrefix("Index") || key.stringValue == "\(i)" { return text + "[\(i)]" }
                return text.isEmpty ? key.stringValue : text + "." + key.stringValue
            }
        }
        func kind(_ type: Any.Type) -> String {
            switch type {
            case is Int.Type: "a whole number"
            case is Double.Type: "a number"
            case is String.Type: "a string"
            case is Bool.Type: "true or false"
            default: String(describing: type).hasPrefix("Array") ? "a list" : "a mapping"
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field '\(path(context.codingPath + [key]))'"
        case .typeMismatch(let type, let context):
            return "field '\(path(context.codingPath))' must be \(kind(type))"
        case .valueNotFound(let type, let context):
            return "field '\(path(context.codingPath))' must be \(kind(type)), not null"
        case .dataCorrupted(let context):
            let at = path(context.codingPath)
            return at.isEmpty ? context.debugDescription : "field '\(at)': \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
