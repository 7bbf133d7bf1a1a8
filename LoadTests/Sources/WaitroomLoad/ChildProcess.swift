import Glibc

/// A child process running this same executable, with its stdout on a pipe to us.
struct ChildProcess: Sendable {
    /// The child's pid.
    let pid: pid_t
    /// Our end of the pipe carrying the child's stdout (non-inherited, close-on-exec).
    let stdoutReadFD: CInt

    /// Why spawning failed.
    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// The path of the running executable.
    static func currentExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw SpawnError(description: "readlink /proc/self/exe failed: errno \(errno)") }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Starts `executable arguments…` with stdout on a new pipe; stdin and stderr are inherited.
    static func spawn(executable: String, arguments: [String]) throws -> ChildProcess {
        var fds: [CInt] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(description: "pipe failed: errno \(errno)") }
        // Close-on-exec on both ends, so later children do not inherit this child's pipe.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on fd 1; both original ends close at exec.
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw SpawnError(description: "posix_spawn failed: \(rc)")
        }
        return ChildProcess(pid: pid, stdoutReadFD: fds[0])
    }

    /// Reaps the child if it has exited; returns its exit status then, else `nil`.
    func reap() -> Int32? {
        var status: Int32 = 0
        let rc = waitpid(self.pid, &status, WNOHANG)
        return rc == self.pid ? status : (rc < 0 ? -1 : nil)
    }

    /// Sends SIGTERM to this child (only ever to a pid we spawned).
    func terminate() { kill(self.pid, SIGTERM) }
}
