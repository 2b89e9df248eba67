/*
 * tsbpf native boundary: the only C in tsbpf.
 *
 * It crosses into the kernel and does nothing else: the bpf() and
 * perf_event_open() syscalls, ioctl, close, mmap exposed as external
 * ArrayBuffers (explicit release of the kernel mapping, unmap on GC), and fd readiness
 * through libuv's uv_poll. Every decision lives in TypeScript.
 *
 * Syscall wrappers return the result, or -errno on failure: throwing from C
 * would make an expected miss (ENOENT on a lookup) cost an exception.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define CHECK(env, call)                                                                                 \
  do {                                                                                                   \
    if ((call) != napi_ok) {                                                                             \
      const napi_extended_error_info *info__ = NULL;                                                     \
      napi_get_last_error_info((env), &info__);                                                          \
      bool pending__ = false;                                                                            \
      napi_is_exception_pending((env), &pending__);                                                      \
      if (!pending__)                                                                                    \
        napi_throw_error((env), "TSBPF_NATIVE",                                                          \
                         info__ && info__->error_message ? info__->error_message : "N-API call failed"); \
      return NULL;                                                                                       \
    }                                                                                                    \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "tsbpf native: too few arguments");
    return -1;
  }
  return 0;
}

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) {
    throw_type(env, "tsbpf native: expected a number");
    return -1;
  }
  return napi_get_value_int64(env, v, out) == napi_ok ? 0 : -1;
}

/* Data pointer and length of a TypedArray, DataView, Buffer or ArrayBuffer. */
static int get_bytes(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  napi_is_typedarray(env, v, &is);
  if (is) {
    napi_typedarray_type type;
    size_t count, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &count, data, &ab, &offset) != napi_ok) return -1;
    size_t elem = 1;
    switch (type) {
    case napi_int16_array:
    case napi_uint16_array: elem = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: elem = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
    }
    *len = count * elem;
    return 0;
  }
  napi_is_dataview(env, v, &is);
  if (is) {
    napi_value ab;
    size_t offset;
    return napi_get_dataview_info(env, v, len, data, &ab, &offset) == napi_ok ? 0 : -1;
  }
  napi_is_arraybuffer(env, v, &is);
  if (is) return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  throw_type(env, "tsbpf native: expected an ArrayBuffer or a view of one");
  return -1;
}

/* The attr of bpf(): an ArrayBuffer (hot paths pass one: a single cheap N-API query) or a
 * Uint8Array/Buffer. Its own byte length is the size the kernel is told, so the kernel never reads
 * or writes past the buffer. Nothing else is accepted, in particular never a raw address. */
static int get_attr(napi_env env, napi_value v, void **data, size_t *len) {
  if (napi_get_arraybuffer_info(env, v, data, len) == napi_ok) return 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) == napi_ok && type == napi_uint8_array)
    return 0; /* length is in bytes for a Uint8Array */
  throw_type(env, "tsbpf native: expected an ArrayBuffer or a Uint8Array");
  return -1;
}

/* bpf(cmd, attr) -> result or -errno. attr is the whole union bpf_attr prefix. The hot path of
 * every map operation: four N-API calls (arguments, cmd, buffer, result), no type probing. */
static napi_value js_bpf(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  int32_t cmd;
  void *attr;
  size_t len;
  if (napi_get_value_int32(env, argv[0], &cmd) != napi_ok) return throw_type(env, "tsbpf native: expected a number");
  if (get_attr(env, argv[1], &attr, &len)) return NULL;
  if (attr == NULL && len != 0) return throw_type(env, "tsbpf native: attr buffer is detached");
  long r = syscall(__NR_bpf, cmd, attr, (unsigned int)len);
  napi_value out;
  /* bpf(2) results (fds, ids, counts, 0) and -errno all fit in an int32: a Smi, no allocation. */
  if (napi_create_int32(env, r < 0 ? -errno : (int32_t)r, &out) != napi_ok) return NULL;
  return out;
}

/* addressOf(view) -> the user-space address of the view's first byte. The
 * kernel validates every pointer it is given (EFAULT), so a stale address can
 * never crash the process; callers keep the buffer alive across the syscall. */
static napi_value js_address_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  void *data;
  size_t len;
  if (get_bytes(env, argv[0], &data, &len)) return NULL;
  napi_value out;
  CHECK(env, napi_create_double(env, (double)(uintptr_t)data, &out));
  return out;
}

static napi_value js_perf_event_open(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv)) return NULL;
  void *attr;
  size_t len;
  int64_t pid, cpu, group, flags;
  if (get_bytes(env, argv[0], &attr, &len) || get_i64(env, argv[1], &pid) || get_i64(env, argv[2], &cpu) ||
      get_i64(env, argv[3], &group) || get_i64(env, argv[4], &flags))
    return NULL;
  if (len < 64) return throw_type(env, "tsbpf native: perf_event_attr too short");
  long r = syscall(__NR_perf_event_open, attr, (pid_t)pid, (int)cpu, (int)group, (unsigned long)flags);
  return make_int(env, r < 0 ? -errno : r);
}

/* ioctl(fd, request, arg): arg is a number or a buffer passed by address. */
static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv)) return NULL;
  int64_t fd, req;
  if (get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &req)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  unsigned long arg;
  if (t == napi_number) {
    int64_t v;
    if (get_i64(env, argv[2], &v)) return NULL;
    arg = (unsigned long)v;
  } else {
    void *data;
    size_t len;
    if (get_bytes(env, argv[2], &data, &len)) return NULL;
    arg = (unsigned long)data;
  }
  int r = ioctl((int)fd, (unsigned long)req, arg);
  return make_int(env, r < 0 ? -errno : r);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  int64_t fd;
  if (get_i64(env, argv[0], &fd)) return NULL;
  if (fd < 0) return make_int(env, -EBADF);
  return make_int(env, close((int)fd) < 0 ? -errno : 0);
}

/* ---- timerfd (sub-millisecond latency budgets, watched with uv_poll) -- */

/* timerfdCreate() -> fd (CLOCK_MONOTONIC, nonblocking, close-on-exec), or -errno. */
static napi_value js_timerfd_create(napi_env env, napi_callback_info info) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  return make_int(env, fd < 0 ? -errno : fd);
}

/* timerfdSet(fd, ns) -> 0 or -errno: one-shot expiry ns from now; 0 disarms
 * (re-arming or disarming also clears an expiry not yet read). */
static napi_value js_timerfd_set(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  int64_t fd, ns;
  if (get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &ns)) return NULL;
  if (fd < 0) return make_int(env, -EBADF);
  if (ns < 0) return make_int(env, -EINVAL);
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_value.tv_sec = ns / 1000000000;
  its.it_value.tv_nsec = ns % 1000000000;
  return make_int(env, timerfd_settime((int)fd, 0, &its, NULL) < 0 ? -errno : 0);
}

/* ---- blocking waits for a dedicated reader thread (RingBuffer.runBlocking):
 * one syscall per wake-up, no event loop. No state. ------------------------ */

/* monotonicNs() -> CLOCK_MONOTONIC in ns (a double: exact to 2^53 ns, 104 days). */
static napi_value js_monotonic_ns(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  napi_value r;
  napi_create_double(env, (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec, &r);
  return r;
}

/* sleepUntil(ns) -> 0 or -errno: clock_nanosleep to an absolute CLOCK_MONOTONIC time. */
static napi_value js_sleep_until(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  double ns;
  if (napi_get_value_double(env, argv[0], &ns) != napi_ok || !(ns >= 0))
    return throw_type(env, "tsbpf native: sleepUntil expects ns >= 0");
  struct timespec ts = {(time_t)(ns / 1e9), 0};
  ts.tv_nsec = (long)(ns - (double)ts.tv_sec * 1e9);
  if (ts.tv_nsec < 0) ts.tv_nsec = 0;
  if (ts.tv_nsec > 999999999) ts.tv_nsec = 999999999;
  int r;
  while ((r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)) == EINTR) {}
  return make_int(env, -r);
}

/* pollWait(fds: Int32Array, timeoutNs) -> fds readable (> 0), 0 on timeout, or -errno:
 * a blocking ppoll(POLLIN); timeoutNs < 0 waits forever. */
static napi_value js_poll_wait(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  void *data;
  size_t len;
  int64_t tns;
  if (get_bytes(env, argv[0], &data, &len) || get_i64(env, argv[1], &tns)) return NULL;
  size_t n = len / sizeof(int32_t);
  if (n == 0 || n > 64) return make_int(env, -EINVAL);
  struct pollfd pfd[64];
  for (size_t i = 0; i < n; i++) {
    pfd[i].fd = ((int32_t *)data)[i];
    pfd[i].events = POLLIN;
    pfd[i].revents = 0;
  }
  struct timespec ts = {(time_t)(tns / 1000000000), (long)(tns % 1000000000)};
  int r = ppoll(pfd, (nfds_t)n, tns < 0 ? NULL : &ts, NULL);
  return make_int(env, r < 0 ? -errno : r);
}

/* ---- epoll + periodic timerfd for a dedicated reader thread (RingBuffer.runBlocking): the same
 * syscalls per wake-up as libbpf's C consumer with a timerfd budget (epoll_wait, then read the
 * timerfd), in one call from JS. No state. ------------------------------------------------------ */

/* epollCreate() -> epoll fd (close-on-exec), or -errno. */
static napi_value js_epoll_create(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = epoll_create1(EPOLL_CLOEXEC);
  return make_int(env, fd < 0 ? -errno : fd);
}

/* epollCtl(epfd, op, fd) -> 0 or -errno: op 1 adds fd (EPOLLIN, level-triggered), 2 removes it. */
static napi_value js_epoll_ctl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv)) return NULL;
  int64_t ep, op, fd;
  if (get_i64(env, argv[0], &ep) || get_i64(env, argv[1], &op) || get_i64(env, argv[2], &fd)) return NULL;
  if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_DEL) return make_int(env, -EINVAL);
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.fd = (int)fd;
  return make_int(env, epoll_ctl((int)ep, (int)op, (int)fd, &ev) < 0 ? -errno : 0);
}

/* timerfdSetInterval(fd, ns) -> 0 or -errno: periodic expiry every ns (the first ns from now);
 * 0 disarms. Either also clears an expiry not yet read. */
static napi_value js_timerfd_set_interval(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  int64_t fd, ns;
  if (get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &ns)) return NULL;
  if (fd < 0) return make_int(env, -EBADF);
  if (ns < 0) return make_int(env, -EINVAL);
  struct itimerspec its;
  its.it_value.tv_sec = its.it_interval.tv_sec = ns / 1000000000;
  its.it_value.tv_nsec = its.it_interval.tv_nsec = ns % 1000000000;
  return make_int(env, timerfd_settime((int)fd, 0, &its, NULL) < 0 ? -errno : 0);
}

/* epollWaitTimer(epfd, timerFd) -> 1 | 2 | 3, or -errno: blocks in epoll_wait (no timeout) until an
 * fd of the set is readable. Bit 1: an fd other than timerFd is readable; bit 2: timerFd expired
 * (its expiry count is read, which clears it). */
static napi_value js_epoll_wait_timer(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  int64_t ep, tfd;
  if (get_i64(env, argv[0], &ep) || get_i64(env, argv[1], &tfd)) return NULL;
  struct epoll_event got[16];
  int n = epoll_wait((int)ep, got, 16, -1);
  if (n < 0) return make_int(env, -errno);
  int r = 0;
  for (int i = 0; i < n; i++) {
    if (got[i].data.fd != (int)tfd) {
      r |= 1;
      continue;
    }
    uint64_t expirations;
    if (read((int)tfd, &expirations, sizeof expirations) == (ssize_t)sizeof expirations) r |= 2;
  }
  return make_int(env, r);
}

/* ---- CPU placement of the calling thread (deterministic tests, benches) */

/* schedSetaffinity(mask) -> 0 or -errno: mask is a byte buffer, bit n = CPU n,
 * applied to the calling thread only (pid 0 = this thread). */
static napi_value js_sched_setaffinity(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  void *data;
  size_t len;
  if (get_bytes(env, argv[0], &data, &len)) return NULL;
  int r = sched_setaffinity(0, len, (cpu_set_t *)data);
  return make_int(env, r < 0 ? -errno : 0);
}

/* schedGetaffinity(mask) -> bytes the kernel wrote, or -errno. */
static napi_value js_sched_getaffinity(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  void *data;
  size_t len;
  if (get_bytes(env, argv[0], &data, &len)) return NULL;
  long r = syscall(__NR_sched_getaffinity, 0, len, data);
  return make_int(env, r < 0 ? -errno : r);
}

/* schedGetcpu() -> the CPU the calling thread runs on now, or -errno. */
static napi_value js_sched_getcpu(napi_env env, napi_callback_info info) {
  int r = sched_getcpu();
  return make_int(env, r < 0 ? -errno : r);
}

/* pidfdOpen(pid) -> a pidfd (close-on-exec) for process `pid`, or -errno (task storage maps are keyed by pidfds). */
static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  int32_t pid;
  if (napi_get_value_int32(env, argv[0], &pid) != napi_ok) {
    napi_throw_type_error(env, NULL, "tsbpf: pidfdOpen(pid) needs a number");
    return NULL;
  }
#ifdef __NR_pidfd_open
  long r = syscall(__NR_pidfd_open, pid, 0);
  return make_int(env, r < 0 ? -errno : r);
#else
  return make_int(env, -ENOSYS);
#endif
}

/* ---- sockets ----------------------------------------------------------- */

/* setsockopt(fd, level, optname, optval bytes) -> 0 or -errno (SO_ATTACH_BPF and
 * friends for socket filters; the caller encodes optval). */
static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (get_args(env, info, 4, argv)) return NULL;
  int64_t fd, level, name;
  if (get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &level) || get_i64(env, argv[2], &name)) return NULL;
  void *data;
  size_t len;
  if (get_bytes(env, argv[3], &data, &len)) return NULL;
  int r = setsockopt((int)fd, (int)level, (int)name, data, (socklen_t)len);
  return make_int(env, r < 0 ? -errno : 0);
}

/* ---- mmap as external ArrayBuffers ------------------------------------ */

typedef struct mapping {
  void *addr;
  size_t len;
  int prot;
  int mapped;
  int retired;               /* the kernel mapping was replaced by zero pages (see js_unmap) */
  struct addon_state *owner; /* NULL once the environment is torn down */
  struct mapping *next;
} mapping;

/* Per-environment state (N-API instance data): the main thread and every
 * worker thread load the addon into their own napi_env, each with its own JS
 * thread. Everything mutable lives here, touched only on that env's thread,
 * so no lock and no process globals. */
typedef struct addon_state {
  mapping *mappings; /* live mappings, so unmap(ab) finds the region */
} addon_state;

static addon_state *get_state(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok || data == NULL) {
    napi_throw_error(env, "TSBPF_NATIVE", "tsbpf native: addon state missing");
    return NULL;
  }
  return data;
}

static void mapping_unlink(addon_state *st, mapping *m) {
  for (mapping **p = &st->mappings; *p; p = &(*p)->next)
    if (*p == m) {
      *p = m->next;
      break;
    }
}

static void mapping_finalize(napi_env env, void *data, void *hint) {
  mapping *m = hint;
  if (m->mapped) munmap(m->addr, m->len);
  if (m->owner) mapping_unlink(m->owner, m);
  free(m);
}

/* Environment teardown (worker exit): unmap whatever is still mapped. A
 * mapping whose ArrayBuffer finalizer has not run stays allocated (owner
 * cleared) so a late finalizer only frees it; one that never runs leaks a few
 * bytes of bookkeeping, never an address range. */
static void state_finalize(napi_env env, void *data, void *hint) {
  addon_state *st = data;
  for (mapping *m = st->mappings, *next; m; m = next) {
    next = m->next;
    if (m->mapped) munmap(m->addr, m->len);
    m->mapped = 0;
    m->owner = NULL;
    m->next = NULL;
  }
  free(st);
}

/* mmap(fd, length, prot, flags, offset) -> ArrayBuffer, or -errno. */
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (get_args(env, info, 5, argv)) return NULL;
  int64_t fd, len, prot, flags, off;
  if (get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &len) || get_i64(env, argv[2], &prot) ||
      get_i64(env, argv[3], &flags) || get_i64(env, argv[4], &off))
    return NULL;
  if (len <= 0) return make_int(env, -EINVAL);
  addon_state *st = get_state(env);
  if (!st) return NULL;
  void *addr = mmap(NULL, (size_t)len, (int)prot, (int)flags, (int)fd, (off_t)off);
  if (addr == MAP_FAILED) return make_int(env, -errno);
  mapping *m = calloc(1, sizeof *m);
  if (!m) {
    munmap(addr, (size_t)len);
    return make_int(env, -ENOMEM);
  }
  m->addr = addr;
  m->len = (size_t)len;
  m->prot = (int)prot;
  m->mapped = 1;
  m->owner = st;
  m->next = st->mappings;
  st->mappings = m;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, (size_t)len, mapping_finalize, m, &ab) != napi_ok) {
    st->mappings = m->next;
    munmap(addr, (size_t)len);
    free(m);
    napi_throw_error(env, "TSBPF_NATIVE", "tsbpf native: cannot wrap mapping in an ArrayBuffer");
    return NULL;
  }
  return ab;
}

/* unmap(ab): releases the kernel object's pages at once, without detaching
 * the ArrayBuffer. Detaching any ArrayBuffer invalidates V8's process-wide
 * "array buffer detaching" protector, and from then on every typed array and
 * DataView access in the process (tsbpf's readers and the application's own
 * code) pays a detached-buffer check: one unrelated detach made a perf buffer
 * drain 20% slower, for the life of the process. So the range is replaced in
 * place, atomically (MAP_FIXED), by private anonymous zero pages with the same
 * protection (MAP_NORESERVE: nothing is charged until written, and only the
 * header page is ever written, by a drain a callback closed). Every view of
 * the buffer now reads zeros, never the kernel's memory; the address range
 * goes back when the ArrayBuffer is collected (mapping_finalize). Should that
 * mmap fail, detach and munmap as before. Returns 0 when the buffer is still
 * attached (over zero pages), 1 when it was detached. Safe to call twice. */
static napi_value js_unmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  bool is;
  CHECK(env, napi_is_arraybuffer(env, argv[0], &is));
  if (!is) return throw_type(env, "tsbpf native: unmap expects an ArrayBuffer from mmap");
  void *data;
  size_t len;
  CHECK(env, napi_get_arraybuffer_info(env, argv[0], &data, &len));
  if (data == NULL) return make_int(env, 1); /* already detached */
  addon_state *st = get_state(env);
  if (!st) return NULL;
  mapping *m = st->mappings;
  while (m && !(m->mapped && m->addr == data)) m = m->next;
  if (!m) return throw_type(env, "tsbpf native: ArrayBuffer was not created by mmap");
  if (m->retired) return make_int(env, 0);
  void *zero = mmap(m->addr, m->len, m->prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  if (zero == m->addr) {
    m->retired = 1;
    return make_int(env, 0);
  }
  CHECK(env, napi_detach_arraybuffer(env, argv[0]));
  int r = munmap(m->addr, m->len);
  m->mapped = 0;
  return make_int(env, r < 0 ? -errno : 1);
}

/* ---- fd readiness through uv_poll ------------------------------------- */

typedef struct watcher {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref resource;
  napi_async_context async;
  int closed;     /* pollClose or GC started uv_close */
  int close_done; /* libuv finished closing the handle */
  int collected;  /* the JS external was garbage-collected */
  int active;
} watcher;

/* The struct is freed once both libuv and the GC are done with it. */
static void watcher_on_close(uv_handle_t *h) {
  watcher *w = h->data;
  w->close_done = 1;
  if (w->collected) free(w);
}

static void watcher_release(watcher *w) {
  if (w->closed) return;
  w->closed = 1;
  napi_env env = w->env;
  if (w->callback) napi_delete_reference(env, w->callback);
  if (w->resource) napi_delete_reference(env, w->resource);
  if (w->async) napi_async_destroy(env, w->async);
  w->callback = w->resource = NULL;
  w->async = NULL;
  uv_close((uv_handle_t *)&w->poll, watcher_on_close);
}

static void watcher_on_event(uv_poll_t *h, int status, int events) {
  watcher *w = h->data;
  if (w->closed) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, resource, argv[2], ret;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_reference_value(env, w->resource, &resource);
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, events, &argv[1]);
  /* make_callback runs the microtask queue afterwards, so awaiting readers
   * resume within this same wake-up. */
  napi_status st = napi_make_callback(env, w->async, resource, cb, 2, argv, &ret);
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  watcher *w = data;
  w->collected = 1;
  if (!w->closed)
    watcher_release(w);
  else if (w->close_done)
    free(w);
}

/* pollStart(fd, events, cb) -> handle; events: 1 readable, 4 writable... */
static napi_value js_poll_start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv)) return NULL;
  int64_t fd, events;
  if (get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &events)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (t != napi_function) return throw_type(env, "tsbpf native: pollStart expects a callback");
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  watcher *w = calloc(1, sizeof *w);
  if (!w) return make_int(env, -ENOMEM);
  int r = uv_poll_init(loop, &w->poll, (int)fd);
  if (r < 0) {
    free(w);
    return make_int(env, r);
  }
  w->poll.data = w;
  w->env = env;
  napi_value resource, name;
  CHECK(env, napi_create_object(env, &resource));
  CHECK(env, napi_create_string_utf8(env, "tsbpf:poll", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_async_init(env, resource, name, &w->async));
  CHECK(env, napi_create_reference(env, argv[2], 1, &w->callback));
  CHECK(env, napi_create_reference(env, resource, 1, &w->resource));
  r = uv_poll_start(&w->poll, (int)events, watcher_on_event);
  if (r < 0) {
    w->collected = 1;
    watcher_release(w);
    return make_int(env, r);
  }
  w->active = 1;
  napi_value handle;
  CHECK(env, napi_create_external(env, w, watcher_finalize, NULL, &handle));
  return handle;
}

static watcher *get_watcher(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_external) {
    throw_type(env, "tsbpf native: expected a poll handle");
    return NULL;
  }
  void *p;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/* pollStop(handle): stop watching without closing (cheap epoll_ctl). */
static napi_value js_poll_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  watcher *w = get_watcher(env, argv[0]);
  if (!w) return NULL;
  if (w->closed || !w->active) return make_int(env, 0);
  w->active = 0;
  return make_int(env, uv_poll_stop(&w->poll));
}

/* pollResume(handle, events) */
static napi_value js_poll_resume(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  watcher *w = get_watcher(env, argv[0]);
  if (!w) return NULL;
  int64_t events;
  if (get_i64(env, argv[1], &events)) return NULL;
  if (w->closed) return make_int(env, -EBADF);
  w->active = 1;
  return make_int(env, uv_poll_start(&w->poll, (int)events, watcher_on_event));
}

/* pollClose(handle): safe twice; the struct outlives it until libuv and the
 * GC have both let go. */
static napi_value js_poll_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  watcher *w = get_watcher(env, argv[0]);
  if (!w) return NULL;
  if (!w->closed) {
    if (w->active) uv_poll_stop(&w->poll);
    w->active = 0;
    watcher_release(w);
  }
  return make_int(env, 0);
}

#define EXPORT(name, fn)                                                           \
  do {                                                                             \
    napi_value f__;                                                                \
    CHECK(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f__)); \
    CHECK(env, napi_set_named_property(env, exports, name, f__));                  \
  } while (0)

static napi_value init(napi_env env, napi_value exports) {
  addon_state *st = calloc(1, sizeof *st);
  if (!st) {
    napi_throw_error(env, "TSBPF_NATIVE", "tsbpf native: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, st, state_finalize, NULL) != napi_ok) {
    free(st);
    napi_throw_error(env, "TSBPF_NATIVE", "tsbpf native: cannot set instance data");
    return NULL;
  }
  EXPORT("bpf", js_bpf);
  EXPORT("addressOf", js_address_of);
  EXPORT("perfEventOpen", js_perf_event_open);
  EXPORT("ioctl", js_ioctl);
  EXPORT("close", js_close);
  EXPORT("mmap", js_mmap);
  EXPORT("unmap", js_unmap);
  EXPORT("pollStart", js_poll_start);
  EXPORT("pollStop", js_poll_stop);
  EXPORT("pollResume", js_poll_resume);
  EXPORT("pollClose", js_poll_close);
  EXPORT("timerfdCreate", js_timerfd_create);
  EXPORT("timerfdSet", js_timerfd_set);
  EXPORT("monotonicNs", js_monotonic_ns);
  EXPORT("sleepUntil", js_sleep_until);
  EXPORT("pollWait", js_poll_wait);
  EXPORT("epollCreate", js_epoll_create);
  EXPORT("epollCtl", js_epoll_ctl);
  EXPORT("timerfdSetInterval", js_timerfd_set_interval);
  EXPORT("epollWaitTimer", js_epoll_wait_timer);
  EXPORT("schedSetaffinity", js_sched_setaffinity);
  EXPORT("schedGetaffinity", js_sched_getaffinity);
  EXPORT("schedGetcpu", js_sched_getcpu);
  EXPORT("setsockopt", js_setsockopt);
  EXPORT("pidfdOpen", js_pidfd_open);
  napi_value v;
  CHECK(env, napi_create_int64(env, sysconf(_SC_PAGESIZE), &v));
  CHECK(env, napi_set_named_property(env, exports, "pageSize", v));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
