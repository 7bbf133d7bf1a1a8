import FastJSON
import NIOCore

/// Small hand-written JSON output for the hot paths (no encoder round trip).
public enum JSONText {
    /// `{"error":{"code":...,"message":...}}`, optionally followed by extra raw members.
    static func errorBody(code: String, message: String, extraMembers: String? = nil) -> String {
        var out = "{\"error\":{\"code\":"
        JSONWriter.appendString(code, to: &out)
        out.append(",\"message\":")
        JSONWriter.appendString(message, to: &out)
        out.append("}")
        if let extraMembers {
            out.append(",")
            out.append(extraMembers)
        }
        out.append("}")
        return out
    }

    /// A JSON object of string members, in the given order.
    static func object(_ members: [(String, String)]) -> String {
        var out = "{"
        for (index, member) in members.enumerated() {
            if index > 0 { out.append(",") }
            JSONWriter.appendString(member.0, to: &out)
            out.append(":")
            JSONWriter.appendString(member.1, to: &out)
        }
        out.append("}")
        return out
    }
}
