/*
 * Reference consumer for the live bench (src/bench/live.ts): the same events as the tsbpf reader
 * (32 bytes: ktime, seq, id, pid_tgid from the sys_enter tracer) drained with libbpf's
 * ring_buffer__consume, doing the same per-event work (latency histogram from one CLOCK_MONOTONIC
 * reading per drain, a check that each generator thread's sequence rises), with the same wake-up
 * strategy as the tsbpf reader:
 *
 *   budget <us>   idle: wait for ring readiness (epoll); after a drain that found events, stop
 *                 watching the ring and drain again every <us> on a periodic timerfd; the first
 *                 timer drain that finds nothing goes back to watching the ring.
 *   default       libbpf's default: ring_buffer__poll(), one wake-up per readiness.
 *
 * usage: live_consume <ring-map-id> <events> budget <us> | default  [threads=N]
 * threads=N: the generator's threads (bench/c/syscall_loop.c; default 1): thread k numbers its calls
 * k·2^40 + i, each thread's sequence must rise on its own (a gap is a loss; a repeat, a step back or
 * a thread index >= N counts as out of order), as SeqChecker.advance in src/bench/soak-check.ts.
 * Prints "ready" once set up, then runs until <events> were delivered or stdin closes (the
 * caller closes it once the generator is done and the drop counter accounts for the rest).
 * prints: {"delivered":N,"outOfOrder":N,"nextSeq":S,"cpuPct":C,"cpuPctWhole":W,"userPct":U,
 *          "sysPct":K,"steadyEventsPerSec":R,"p50Us":..,"p99Us":..,"maxUs":..,"wakeups":N,"drains":N}
 * CPU and rate are over the steady state (between the drains crossing 10 % and 90 % of <events>),
 * latency percentiles over the events after the first 10 %, max over all: as the tsbpf consumer.
 * nextSeq: per thread, its last call number seen + 1, summed (= events produced when none is missing).
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define FINE   1000
#define COARSE 10000
/** syscall_loop.c's SEQ_THREAD_SHIFT and MAX_THREADS. */
#define SEQ_THREAD_SHIFT 40
#define MAX_THREADS      64
static double counts[FINE + COARSE + 1], ramp_counts[FINE + COARSE + 1];
static double hist_n, ramp_n, max_ns;
static uint64_t now_ns_drain, delivered, out_of_order, ramp_events;
/** Per generator thread: its next call number must be at least this. */
static uint64_t min_seq[MAX_THREADS];
static uint64_t threads = 1;

static void hist_add(double *c, double v) {
  if (v < 0) v = 0;
  if (v > max_ns) max_ns = v;
  int i = v < 1e6 ? (int)(v / 1000) : v < 101e6 ? FINE + (int)((v - 1e6) / 10000) : FINE + COARSE;
  c[i]++;
}

static double percentile(const double *c, double n, double p) {
  double target = (p / 100) * n, seen = 0;
  if (target < 1) target = 1;
  for (int i = 0; i < FINE + COARSE; i++)
    if ((seen += c[i]) >= target - 1e-9) return i < FINE ? (i + 1) * 1000.0 : 1e6 + (i - FINE + 1) * 10000.0;
  return max_ns;
}

static int on_event(void *ctx, void *data, size_t len) {
  (void)ctx;
  if (len < 32) return -22;
  const uint64_t *e = data;
  double d = (double)(int64_t)(now_ns_drain - e[0]);
  if (delivered < ramp_events) {
    hist_add(ramp_counts, d);
    ramp_n++;
  } else {
    hist_add(counts, d);
    hist_n++;
  }
  uint64_t seq = e[1], k = seq >> SEQ_THREAD_SHIFT, i = seq & ((1ull << SEQ_THREAD_SHIFT) - 1);
  if (k >= threads || i < min_seq[k])
    out_of_order++;
  else
    min_seq[k] = i + 1;
  delivered++;
  return 0;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void cpu_us(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec;
  *sys = ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s <ring-map-id> <events> budget <us> | default  [threads=N]\n", argv[0]);
    return 2;
  }
  int fd = bpf_map_get_fd_by_id((uint32_t)strtoul(argv[1], NULL, 10));
  if (fd < 0) {
    fprintf(stderr, "bpf_map_get_fd_by_id: %s\n", strerror(errno));
    return 1;
  }
  uint64_t events = strtoull(argv[2], NULL, 10);
  int budget_mode = strcmp(argv[3], "budget") == 0;
  double budget_us = budget_mode && argc > 4 ? strtod(argv[4], NULL) : 0;
  for (int a = budget_mode ? 5 : 4; a < argc; a++) {
    if (strncmp(argv[a], "threads=", 8) == 0)
      threads = strtoull(argv[a] + 8, NULL, 10);
    else {
      fprintf(stderr, "unknown option %s\n", argv[a]);
      return 2;
    }
  }
  if (threads < 1 || threads > MAX_THREADS) {
    fprintf(stderr, "threads=%llu out of 1..%d\n", (unsigned long long)threads, MAX_THREADS);
    return 2;
  }
  ramp_events = events / 10;
  uint64_t lo = events / 10, hi = events * 9 / 10;
  struct ring_buffer *rb = ring_buffer__new(fd, on_event, NULL, NULL);
  if (!rb) {
    fprintf(stderr, "ring_buffer__new: %s\n", strerror(errno));
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC), rfd = ring_buffer__epoll_fd(rb);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN};
  ev.data.u32 = 0;
  epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev);
  ev.data.u32 = 1;
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  ev.data.u32 = 2;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  long long interval = (long long)(budget_us * 1000);
  struct itimerspec on = {.it_interval = {interval / 1000000000, interval % 1000000000},
                          .it_value = {interval / 1000000000, interval % 1000000000}};
  struct itimerspec off = {0};
  printf("ready\n");
  fflush(stdout);

  double u0 = 0, s0 = 0, u1 = 0, s1 = 0, uA, sA, uB, sB;
  uint64_t t0 = 0, t1 = 0, d0 = 0, d1 = 0, wakeups = 0, drains = 0;
  int win0 = 0, win1 = 0, busy = 0, eof = 0;
  cpu_us(&uA, &sA);
  uint64_t tA = mono_ns();
  while (delivered < events && !eof) {
    struct epoll_event got[3];
    int n = epoll_wait(ep, got, 3, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    int ring_ready = 0, timer = 0;
    for (int i = 0; i < n; i++) {
      if (got[i].data.u32 == 0)
        ring_ready = 1;
      else if (got[i].data.u32 == 1) {
        uint64_t x;
        if (read(tfd, &x, 8) == 8) timer = 1;
      } else {
        char b[64];
        if (read(0, b, sizeof b) <= 0) eof = 1;
      }
    }
    if (!ring_ready && !timer && !eof) continue;
    wakeups++;
    now_ns_drain = mono_ns();
    int got_n = ring_buffer__consume(rb);
    if (got_n < 0) {
      fprintf(stderr, "ring_buffer__consume: %d\n", got_n);
      return 1;
    }
    if (got_n > 0) drains++;
    if (budget_mode && interval > 0) {
      if (got_n > 0 && !busy) {
        busy = 1;
        epoll_ctl(ep, EPOLL_CTL_DEL, rfd, NULL);
        timerfd_settime(tfd, 0, &on, NULL);
      } else if (got_n == 0 && busy && timer) {
        busy = 0;
        timerfd_settime(tfd, 0, &off, NULL);
        ev.data.u32 = 0;
        epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev);
      }
    }
    if (!win0 && delivered >= lo) {
      win0 = 1;
      cpu_us(&u0, &s0);
      t0 = mono_ns();
      d0 = delivered;
    } else if (win0 && !win1 && delivered >= hi) {
      win1 = 1;
      cpu_us(&u1, &s1);
      t1 = mono_ns();
      d1 = delivered;
    }
  }
  cpu_us(&uB, &sB);
  uint64_t tB = mono_ns();
  double whole = (uB + sB - uA - sA) / ((tB - tA) / 1e3) * 100;
  int win = win1 && (t1 - t0) >= 50000000ull;
  double wms = (t1 - t0) / 1e6;
  const double *c = hist_n > 0 ? counts : ramp_counts;
  double cn = hist_n > 0 ? hist_n : ramp_n;
  uint64_t next_seq = 0;
  for (uint64_t k = 0; k < threads; k++) next_seq += min_seq[k];
  printf("{\"delivered\":%llu,\"outOfOrder\":%llu,\"nextSeq\":%llu,\"cpuPct\":%.3f,\"cpuPctWhole\":%.3f,\"userPct\":%."
         "3f,\"sysPct\":%.3f,"
         "\"steadyEventsPerSec\":%.0f,\"p50Us\":%.1f,\"p99Us\":%.1f,\"maxUs\":%.1f,\"wakeups\":%llu,\"drains\":%llu}\n",
         (unsigned long long)delivered, (unsigned long long)out_of_order, (unsigned long long)next_seq,
         win ? (u1 + s1 - u0 - s0) / 1e3 / wms * 100 : whole, whole, win ? (u1 - u0) / 1e3 / wms * 100 : -1,
         win ? (s1 - s0) / 1e3 / wms * 100 : -1, win ? (d1 - d0) / (wms / 1e3) : delivered / ((tB - tA) / 1e9),
         cn ? percentile(c, cn, 50) / 1e3 : -1, cn ? percentile(c, cn, 99) / 1e3 : -1, max_ns / 1e3,
         (unsigned long long)wakeups, (unsigned long long)drains);
  ring_buffer__free(rb);
  return 0;
}
