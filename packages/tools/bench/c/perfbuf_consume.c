/*
 * Reference consumer for the perf-vs-ring benchmark (src/bench/perf-vs-ring.ts): drains a
 * BPF_MAP_TYPE_PERF_EVENT_ARRAY's per-CPU buffers, found by map id, with libbpf's
 * perf_buffer__consume and the same per-sample work as the TypeScript consumer: the checksum
 * (h += w0 + 3*w1 + ... + 15*w7 over the sample's first eight u32 words, mod 2^32) and the order
 * check (seq = w0 as a signed int; count samples older than the one before).
 *
 * usage: perfbuf_consume <map-id> <pages-per-cpu>
 * Sets up the buffers (perf_buffer__new puts its perf events into the map), touches every page of
 * them, prints "ready",
 * waits for a line on stdin (the producer has run), then times one perf_buffer__consume.
 * prints: {"count":N,"lost":L,"checksum":H,"inversions":I,"ns":T,"cpu_ns":C}
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t checksum;
static int32_t last_seq = -1;
static long long count, lost, inversions;

static void on_sample(void *ctx, int cpu, void *data, uint32_t size) {
  (void)ctx;
  (void)cpu;
  if (size < 32) return;
  const uint32_t *w = data;
  checksum += w[0] + 3u * w[1] + 5u * w[2] + 7u * w[3] + 9u * w[4] + 11u * w[5] + 13u * w[6] + 15u * w[7];
  int32_t seq = (int32_t)w[0];
  if (seq < last_seq) inversions++;
  last_seq = seq;
  count++;
}

static void on_lost(void *ctx, int cpu, unsigned long long n) {
  (void)ctx;
  (void)cpu;
  lost += (long long)n;
}

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <map-id> <pages-per-cpu>\n", argv[0]);
    return 2;
  }
  int fd = bpf_map_get_fd_by_id((uint32_t)strtoul(argv[1], NULL, 10));
  if (fd < 0) {
    fprintf(stderr, "bpf_map_get_fd_by_id: %s\n", strerror(errno));
    return 1;
  }
  struct perf_buffer *pb = perf_buffer__new(fd, strtoul(argv[2], NULL, 10), on_sample, on_lost, NULL, NULL);
  if (!pb) {
    fprintf(stderr, "perf_buffer__new: %s\n", strerror(errno));
    return 1;
  }
  // Touch every page first, as a long-running consumer has: the timed consume should not pay
  // this process's first page faults on freshly mapped buffers (the TypeScript reader is reused
  // across rounds, its pages long mapped).
  volatile uint64_t touched = 0;
  for (size_t i = 0; i < perf_buffer__buffer_cnt(pb); i++) {
    void *buf;
    size_t size;
    if (perf_buffer__buffer(pb, (int)i, &buf, &size) == 0)
      for (size_t off = 0; off < size; off += 4096) touched += ((volatile uint8_t *)buf)[off];
  }
  (void)touched;
  printf("ready\n");
  fflush(stdout);
  char line[64];
  if (!fgets(line, sizeof line, stdin)) return 1;
  uint64_t c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns(CLOCK_MONOTONIC);
  int r = perf_buffer__consume(pb);
  uint64_t t1 = now_ns(CLOCK_MONOTONIC), c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  if (r < 0) {
    fprintf(stderr, "perf_buffer__consume: %d\n", r);
    return 1;
  }
  printf("{\"count\":%lld,\"lost\":%lld,\"checksum\":%u,\"inversions\":%lld,\"ns\":%llu,\"cpu_ns\":%llu}\n", count,
         lost, checksum, inversions, (unsigned long long)(t1 - t0), (unsigned long long)(c1 - c0));
  perf_buffer__free(pb);
  return 0;
}
