import Foundation
import WaitroomApp

/// Where the admin API is and the token to present: from `--server` or `WAITROOM_ADMIN_URL`,
/// and from `WAITROOM_ADMIN_TOKEN` or `--token-file` (never a command-line value, which `ps`
/// would show to every user of the machine).
public struct AdminTarget: Sendable, Equatable {
    /// The default server: a `make run` on this machine.
    public static let defaultServer = "http://127.0.0.1:8080"

    /// `http://host:port`, without a trailing slash.
    public var server: String
    public var token: String

    public init(server: String, token: String) {
        self.server = server
        self.token = token
    }

    /// The target from the command line's `server` and `tokenFile` and the environment.
    public static func resolve(server: String?, tokenFile: String?, environment: [String: String]) throws(AdminError) -> AdminTarget {
        var url = server ?? environment["WAITROOM_ADMIN_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultServer
        while url.hasSuffix("/") { url.removeLast() }
        let path: String
        do {
            path = try HTTPPoster.split(url).path
        } catch {
            throw AdminError(.badServer, "bad server URL '\(url)': \(error) (expected http://host:port)")
        }
        guard path == "/" else { throw AdminError(.badServer, "bad server URL '\(url)': no path expected (http://host:port)") }
        let token: String
        if let tokenFile {
            do {
                token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw AdminError(.noToken, "cannot read the token file '\(tokenFile)': \(error.localizedDescription)")
            }
            guard !token.isEmpty else { throw AdminError(.noToken, "the token file '\(tokenFile)' is empty") }
        } else {
            guard let value = environment["WAITROOM_ADMIN_TOKEN"]?.trimmingCharacters(in: .whitespacesAndNewlines),
                  !value.isEmpty else {
                throw AdminError(.noToken, "no admin token: set WAITROOM_ADMIN_TOKEN (or pass --token-file FILE); "
                                 + "a `make run` server's token is in .local/admin-token")
            }
            token = value
        }
        return AdminTarget(server: url, token: token)
    }
}
