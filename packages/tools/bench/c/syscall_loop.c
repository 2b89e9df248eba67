// Load generator for the `live` bench suites: a tight loop of syscalls, each carrying its
// sequence number in an argument the syscall ignores (raw_syscalls:sys_enter sees it, so the
// consumer can check every event arrived exactly once and in order).
//
//   syscall_loop COUNT [RATE_PER_SEC] [getppid|close|nosys] [threads=N] [cpus=LIST] [spin=LIST] [batch=B] [nice=N]
//
//   getppid (default)  getppid(seq): seq in args[0]
//   close              close(-1, seq): fails with EBADF at once; seq in args[1]
//   nosys              syscall 1023 (no such syscall: ENOSYS, the cheapest kernel entry); seq in args[0]
//
// Waits for one line on stdin (the tracer is attached by then), runs COUNT calls as fast as
// possible or paced to RATE_PER_SEC (pacing reads the vDSO clock: no extra syscalls), then prints
// {"calls":N,"ns":T,"nsPerCall":X,"start":T0} on stdout.
//
// Several threads (threads=N, any N >= 1): one syscall costs ~1 µs on some hosts (a PVM guest with
// page-table isolation: ~930 ns untraced, ~1.3 µs traced), so one thread cannot make 1M calls/s.
// The threads share one schedule: they claim batches of B calls (batch=, default 32) from a common
// counter, batch j being due at start + j·B/RATE, so the total is paced to RATE and COUNT calls are
// made in all. A thread that falls behind (preempted on a busy CPU) leaves more batches to the
// others instead of dragging the total rate down. Thread k numbers its own calls
// seq = (k << 40) | i, i = 0, 1, ...: each thread's sequence is strictly increasing and the consumer
// tells the threads apart by seq >> 40. Thread k runs on CPU LIST[k % len] of cpus= (default:
// wherever the process may run). A paced thread on a CPU listed in spin= waits for its next batch
// by spinning on the vDSO clock (that CPU is the generator's own); every other paced thread sleeps
// until it (clock_nanosleep, absolute deadline; a syscall the tracer's id test drops) at nice=
// (default 0), so one that shares a CPU with the consumer takes only the CPU time its calls need and
// yields to the consumer when both are ready.
// The output adds "threads":[{"cpu":C,"calls":n,"ns":t,"spin":b},...]; "calls" stays the total.
// Without threads= the program behaves exactly as before (one loop on the main thread, seq = i).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/** Bit position of the thread index in a threaded run's sequence numbers (2^40 calls per thread is ample). */
#define SEQ_THREAD_SHIFT 40
#define MAX_THREADS      64
/** Calls between two pacing checks in the original single-thread loop. */
#define SPIN_BATCH 16
/** Calls per claimed batch in a threaded run (one pacing wait per batch). */
#define DEFAULT_BATCH 32

static inline unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static long nr = SYS_getppid, a0 = 0, seq_in_a1 = 0;

static inline void call(unsigned long long seq) {
  if (seq_in_a1)
    syscall(nr, a0, seq);
  else
    syscall(nr, seq);
}

struct worker {
  pthread_t tid;
  int k;
  int cpu;                  /* -1: not pinned */
  int spin;                 /* pace by spinning (else by sleeping) */
  int nice;                 /* applied to a sleep-paced thread */
  unsigned long long calls; /* made by this thread */
  unsigned long long end;   /* CLOCK_MONOTONIC ns when its last call returned */
};

static pthread_barrier_t start_barrier;
/** The shared schedule: start time, total calls, calls per batch, ns per call (0: unpaced). */
static unsigned long long t0, total;
static unsigned batch;
static double ns_per_call;
/** Calls claimed so far by all threads (a multiple of batch until the last one). */
static _Atomic unsigned long long claimed;

static void *work(void *arg) {
  struct worker *w = arg;
  if (w->cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu, &set);
    int e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (e) {
      fprintf(stderr, "thread %d: cannot run on CPU %d: %s\n", w->k, w->cpu, strerror(e));
      exit(1);
    }
  }
  if (!w->spin && ns_per_call > 0) {
    // The default 50 µs timer slack would turn each sleep into a late wake-up and a burst of calls.
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    if (w->nice && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), w->nice) != 0) {
      perror("setpriority");
      exit(1);
    }
  }
  pthread_barrier_wait(&start_barrier);
  unsigned long long seq = (unsigned long long)w->k << SEQ_THREAD_SHIFT;
  for (;;) {
    unsigned long long first = atomic_fetch_add(&claimed, batch);
    if (first >= total) break;
    unsigned long long n = total - first < batch ? total - first : batch;
    if (ns_per_call > 0) {
      unsigned long long due = t0 + (unsigned long long)(first * ns_per_call);
      if (w->spin) {
        while (now_ns() < due)
          ;
      } else if (now_ns() < due) {
        struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull), .tv_nsec = (long)(due % 1000000000ull)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
          ;
      }
    }
    for (unsigned long long j = 0; j < n; j++) call(seq++);
    w->calls += n;
  }
  w->end = now_ns();
  return NULL;
}

/** Parses "a,b,c" into out (at most max); returns how many. */
static int parse_list(const char *s, int *out, int max) {
  int n = 0;
  while (*s && n < max) {
    char *end;
    out[n++] = (int)strtol(s, &end, 10);
    if (end == s) return -1;
    s = *end == ',' ? end + 1 : end;
  }
  return n;
}

static int threaded(unsigned long long count, double rate, int argc, char **argv) {
  int threads = 1, ncpus = 0, nspin = 0, nice = 0, cpus[MAX_THREADS], spin[MAX_THREADS];
  batch = DEFAULT_BATCH;
  for (int a = 4; a < argc; a++) {
    if (strncmp(argv[a], "threads=", 8) == 0)
      threads = atoi(argv[a] + 8);
    else if (strncmp(argv[a], "cpus=", 5) == 0)
      ncpus = parse_list(argv[a] + 5, cpus, MAX_THREADS);
    else if (strncmp(argv[a], "spin=", 5) == 0)
      nspin = parse_list(argv[a] + 5, spin, MAX_THREADS);
    else if (strncmp(argv[a], "batch=", 6) == 0)
      batch = (unsigned)atoi(argv[a] + 6);
    else if (strncmp(argv[a], "nice=", 5) == 0)
      nice = atoi(argv[a] + 5);
    else {
      fprintf(stderr, "unknown option %s\n", argv[a]);
      return 2;
    }
  }
  if (threads < 1 || threads > MAX_THREADS || ncpus < 0 || nspin < 0 || batch < 1) {
    fprintf(stderr, "bad threads=/cpus=/spin=/batch=\n");
    return 2;
  }
  total = count;
  ns_per_call = rate > 0 ? 1e9 / rate : 0;
  struct worker w[MAX_THREADS];
  pthread_barrier_init(&start_barrier, NULL, (unsigned)threads + 1);
  for (int k = 0; k < threads; k++) {
    w[k] = (struct worker){.k = k, .cpu = ncpus ? cpus[k % ncpus] : -1, .nice = nice};
    for (int j = 0; j < nspin; j++)
      if (spin[j] == w[k].cpu) w[k].spin = 1;
    int e = pthread_create(&w[k].tid, NULL, work, &w[k]);
    if (e) {
      fprintf(stderr, "pthread_create: %s\n", strerror(e));
      return 1;
    }
  }
  char line[64];
  if (!fgets(line, sizeof(line), stdin)) return 1;
  t0 = now_ns();
  pthread_barrier_wait(&start_barrier);
  unsigned long long t1 = t0;
  for (int k = 0; k < threads; k++) {
    pthread_join(w[k].tid, NULL);
    if (w[k].end > t1) t1 = w[k].end;
  }
  printf("{\"calls\":%llu,\"ns\":%llu,\"nsPerCall\":%.2f,\"start\":%llu,\"threads\":[", count, t1 - t0,
         (double)(t1 - t0) / (double)count, t0);
  for (int k = 0; k < threads; k++)
    printf("%s{\"cpu\":%d,\"calls\":%llu,\"ns\":%llu,\"spin\":%s}", k ? "," : "", w[k].cpu, w[k].calls, w[k].end - t0,
           w[k].spin ? "true" : "false");
  printf("]}\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(
        stderr,
        "usage: %s COUNT [RATE_PER_SEC] [getppid|close|nosys] [threads=N] [cpus=LIST] [spin=LIST] [batch=B] [nice=N]\n",
        argv[0]);
    return 2;
  }
  unsigned long long count = strtoull(argv[1], NULL, 10);
  double rate = argc > 2 ? strtod(argv[2], NULL) : 0;
  const char *which = argc > 3 ? argv[3] : "getppid";
  if (strcmp(which, "close") == 0) {
    nr = SYS_close;
    a0 = -1;
    seq_in_a1 = 1;
  } else if (strcmp(which, "nosys") == 0) {
    nr = 1023;
  } else if (strcmp(which, "getppid") != 0) {
    fprintf(stderr, "unknown syscall %s\n", which);
    return 2;
  }
  if (argc > 4) return threaded(count, rate, argc, argv);
  char line[64];
  if (!fgets(line, sizeof(line), stdin)) return 1;
  unsigned long long start = now_ns();
  if (rate > 0) {
    double ns_per_call = 1e9 / rate;
    for (unsigned long long i = 0; i < count; i++) {
      if (i % SPIN_BATCH == 0) {
        unsigned long long due = start + (unsigned long long)(i * ns_per_call);
        while (now_ns() < due)
          ;
      }
      call(i);
    }
  } else {
    for (unsigned long long i = 0; i < count; i++) call(i);
  }
  unsigned long long t1 = now_ns();
  printf("{\"calls\":%llu,\"ns\":%llu,\"nsPerCall\":%.2f,\"start\":%llu}\n", count, t1 - start,
         (double)(t1 - start) / (double)count, start);
  return 0;
}
