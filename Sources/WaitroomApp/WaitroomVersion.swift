/// The version of the server, printed by `--version` and exposed in `/metrics`.
public enum WaitroomVersion {
    public static let string = "0.1.0"
}
