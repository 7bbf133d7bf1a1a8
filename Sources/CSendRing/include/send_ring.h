// A minimal io_uring submission ring for batched socket sends (Linux only; raw system calls, no
// liburing). Used by the SSE fan-out: one ring per event loop, filled with one send per frame
// and submitted with one system call. Not thread-safe: one thread uses a ring at a time.
#ifndef WAITROOM_SEND_RING_H
#define WAITROOM_SEND_RING_H

#include <stdint.h>

typedef struct wr_send_ring wr_send_ring;

/// A ring with room for `entries` sends per submission (rounded up to a power of two by the
/// kernel), or NULL with `*error` set to the errno (ENOSYS, EPERM where io_uring is disabled or
/// filtered, ENOMEM, EINVAL).
wr_send_ring *wr_send_ring_create(unsigned entries, int *error);

void wr_send_ring_destroy(wr_send_ring *ring);

/// How many sends one submission can carry.
unsigned wr_send_ring_capacity(const wr_send_ring *ring);

/// Sends queued and not yet submitted.
unsigned wr_send_ring_queued(const wr_send_ring *ring);

/// Queues `send(fd, bytes, length, MSG_DONTWAIT | MSG_NOSIGNAL)`; its result goes to
/// `results[slot]` at the next submission, where slot is the number of sends queued before it.
/// Returns 0, or -1 when the ring is full (submit first). `bytes` must stay valid until then.
int wr_send_ring_push(wr_send_ring *ring, int fd, const void *bytes, unsigned length);

/// Submits the queued sends in one system call and waits for all of them (a send that does not
/// wait completes during the submission). `results` (room for `wr_send_ring_queued` values)
/// gets the i-th send's result: bytes sent (possibly short), a negated errno (-EAGAIN: the
/// socket buffer is full), or -ECANCELED for a send the kernel did not take (not made).
/// Returns how many completed; a negated errno when the kernel refused the submission outright
/// or sends are still in flight: then the ring, and the bytes of those sends, must not be used
/// again (their results are -ECANCELED and their outcome unknown).
int wr_send_ring_submit(wr_send_ring *ring, int32_t *results);

#endif
