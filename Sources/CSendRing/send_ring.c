#include "send_ring.h"

#ifdef __linux__
#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct wr_send_ring {
    int fd;
    unsigned entries;          // SQ entries (capacity of one submission)
    unsigned queued;           // pushed since the last submission
    // Submission queue
    void *sq_map; size_t sq_map_size;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned sq_local_tail;
    struct io_uring_sqe *sqes; size_t sqes_size;
    // Completion queue (may share the SQ's mapping)
    void *cq_map; size_t cq_map_size;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_cqe *cqes;
};

static int ring_setup(unsigned entries, struct io_uring_params *params) {
    return (int)syscall(__NR_io_uring_setup, entries, params);
}

static int ring_enter(int fd, unsigned submit, unsigned wait, unsigned flags) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

wr_send_ring *wr_send_ring_create(unsigned entries, int *error) {
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    int fd = ring_setup(entries, &params);
    if (fd < 0) { *error = errno; return NULL; }
    wr_send_ring *ring = calloc(1, sizeof *ring);
    if (!ring) { close(fd); *error = ENOMEM; return NULL; }
    ring->fd = fd;
    ring->entries = params.sq_entries;
    ring->sq_map_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    ring->cq_map_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    int single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single && ring->cq_map_size > ring->sq_map_size) ring->sq_map_size = ring->cq_map_size;
    ring->sq_map = mmap(NULL, ring->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (ring->sq_map == MAP_FAILED) goto fail;
    if (single) {
        ring->cq_map = ring->sq_map;
    } else {
        ring->cq_map = mmap(NULL, ring->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (ring->cq_map == MAP_FAILED) { ring->cq_map = NULL; goto fail; }
    }
    ring->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (ring->sqes == MAP_FAILED) { ring->sqes = NULL; goto fail; }
    char *sq = ring->sq_map, *cq = ring->cq_map;
    ring->sq_head = (unsigned *)(sq + params.sq_off.head);
    ring->sq_tail = (unsigned *)(sq + params.sq_off.tail);
    ring->sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
    ring->sq_array = (unsigned *)(sq + params.sq_off.array);
    ring->cq_head = (unsigned *)(cq + params.cq_off.head);
    ring->cq_tail = (unsigned *)(cq + params.cq_off.tail);
    ring->cq_mask = (unsigned *)(cq + params.cq_off.ring_mask);
    ring->cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
    ring->sq_local_tail = *ring->sq_tail;
    return ring;
fail:
    *error = errno;
    wr_send_ring_destroy(ring);
    return NULL;
}

void wr_send_ring_destroy(wr_send_ring *ring) {
    if (!ring) return;
    if (ring->sqes) munmap(ring->sqes, ring->sqes_size);
    if (ring->cq_map && ring->cq_map != ring->sq_map) munmap(ring->cq_map, ring->cq_map_size);
    if (ring->sq_map && ring->sq_map != MAP_FAILED) munmap(ring->sq_map, ring->sq_map_size);
    close(ring->fd);
    free(ring);
}

unsigned wr_send_ring_capacity(const wr_send_ring *ring) { return ring->entries; }

unsigned wr_send_ring_queued(const wr_send_ring *ring) { return ring->queued; }

int wr_send_ring_push(wr_send_ring *ring, int fd, const void *bytes, unsigned length) {
    if (ring->queued >= ring->entries) return -1;
    unsigned index = ring->sq_local_tail & *ring->sq_mask;
    struct io_uring_sqe *sqe = &ring->sqes[index];
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)bytes;
    sqe->len = length;
    // MSG_DONTWAIT: a full socket buffer completes with -EAGAIN instead of waiting for room.
    sqe->msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
    sqe->user_data = ring->queued;
    ring->sq_array[index] = index;
    ring->sq_local_tail++;
    ring->queued++;
    return 0;
}

static void reap(wr_send_ring *ring, int32_t *results, unsigned total, unsigned *completed) {
    unsigned head = *ring->cq_head;
    unsigned tail = atomic_load_explicit((_Atomic unsigned *)ring->cq_tail, memory_order_acquire);
    while (head != tail) {
        struct io_uring_cqe *cqe = &ring->cqes[head & *ring->cq_mask];
        if (cqe->user_data < total) { results[cqe->user_data] = cqe->res; (*completed)++; }
        head++;
    }
    atomic_store_explicit((_Atomic unsigned *)ring->cq_head, head, memory_order_release);
}

int wr_send_ring_submit(wr_send_ring *ring, int32_t *results) {
    unsigned total = ring->queued;
    if (total == 0) return 0;
    ring->queued = 0;
    for (unsigned i = 0; i < total; i++) results[i] = -ECANCELED;
    atomic_store_explicit((_Atomic unsigned *)ring->sq_tail, ring->sq_local_tail, memory_order_release);
    unsigned submitted = 0, completed = 0;
    int failure = 0, retries = 0;
    // Submit: a send that does not wait (MSG_DONTWAIT) completes during the submission, so its
    // completion is usually there when the call returns.
    while (submitted < total) {
        int ret = ring_enter(ring->fd, total - submitted, 0, 0);
        if (ret > 0) { submitted += (unsigned)ret; continue; }
        if (ret < 0 && (errno == EINTR || errno == EAGAIN || errno == EBUSY) && retries++ < 100) {
            reap(ring, results, total, &completed);   // EBUSY/EAGAIN: completions to reap first
            continue;
        }
        failure = ret < 0 ? -errno : -EIO;
        break;
    }
    if (submitted < total) {
        // Not taken by the kernel: withdraw them (their results stay -ECANCELED).
        ring->sq_local_tail -= total - submitted;
        atomic_store_explicit((_Atomic unsigned *)ring->sq_tail, ring->sq_local_tail, memory_order_release);
    }
    reap(ring, results, total, &completed);
    while (completed < submitted) {
        int ret = ring_enter(ring->fd, 0, submitted - completed, IORING_ENTER_GETEVENTS);
        if (ret < 0 && errno != EINTR) { failure = -errno; break; }
        reap(ring, results, total, &completed);
    }
    if (completed < submitted) return failure ? failure : -EIO;   // sends still in flight: the ring is unusable
    return failure && submitted == 0 ? failure : (int)completed;
}

#else
#include <errno.h>
#include <stddef.h>
wr_send_ring *wr_send_ring_create(unsigned entries, int *error) { (void)entries; *error = ENOSYS; return NULL; }
void wr_send_ring_destroy(wr_send_ring *ring) { (void)ring; }
unsigned wr_send_ring_capacity(const wr_send_ring *ring) { (void)ring; return 0; }
unsigned wr_send_ring_queued(const wr_send_ring *ring) { (void)ring; return 0; }
int wr_send_ring_push(wr_send_ring *ring, int fd, const void *bytes, unsigned length) { (void)ring; (void)fd; (void)bytes; (void)length; return -1; }
int wr_send_ring_submit(wr_send_ring *ring, int32_t *results) { (void)ring; (void)results; return -ENOSYS; }
#endif
