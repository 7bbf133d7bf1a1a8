// Passing an open socket to another process over a Unix socket (SCM_RIGHTS), with bytes that go
// with it in the same message. Used by the edge to hand a keep-alive connection to the worker
// process that should serve it. Linux only.
#ifndef WAITROOM_FD_PASS_H
#define WAITROOM_FD_PASS_H

#include <stddef.h>
#include <sys/types.h>

/// Sends one message of `length` bytes (at least 1) carrying a copy of `fd` on the connected
/// SOCK_SEQPACKET socket `sock`, without waiting (MSG_DONTWAIT | MSG_NOSIGNAL). Returns the
/// bytes sent, or -1 with errno set (EAGAIN when the receiver's queue is full).
ssize_t wr_fd_send(int sock, int fd, const void *bytes, size_t length);

/// Receives one message on `sock` into `buffer` (room for `capacity` bytes), waiting for it.
/// The descriptor it carried (close-on-exec) goes to `*fd`, or -1 when it carried none. Returns
/// the bytes received (0 at the peer's end), or -1 with errno set; EMSGSIZE when the message or
/// its control data did not fit (any descriptor received is closed then).
ssize_t wr_fd_receive(int sock, void *buffer, size_t capacity, int *fd);

/// `accept4(sock, NULL, NULL, SOCK_CLOEXEC)`, retried on EINTR.
int wr_fd_accept(int sock);

#endif
