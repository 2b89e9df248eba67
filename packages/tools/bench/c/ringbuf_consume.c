/*
 * Reference consumer for the ringbuf benchmark (src/bench/ringbuf.ts): drains a BPF ring buffer,
 * found by map id, with libbpf's ring_buffer__consume and the same per-record checksum as the
 * TypeScript consumers: h += w0 + 3*w1 + 5*w2 + ... + 15*w7 over the record's eight u32 words,
 * mod 2^32. Only the drain is timed (wall and process CPU time). Before timing, every page of the
 * ring's mappings is touched once, as a long-running consumer's would have been: on this kind of
 * VM the first access to each 4 KiB page of a fresh mapping costs ~3 µs, which held a fresh C
 * process to ~40 Mevents/s instead of ~290 (the tsbpf reader's mapping is long-lived).
 *
 * usage: ringbuf_consume <map-id>
 * prints: {"count":N,"checksum":H,"ns":T,"cpu_ns":C}
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint32_t checksum;

static int on_record(void *ctx, void *data, size_t len) {
  (void)ctx;
  if (len < 32) return -22;
  const uint32_t *w = data;
  checksum += w[0] + 3u * w[1] + 5u * w[2] + 7u * w[3] + 9u * w[4] + 11u * w[5] + 13u * w[6] + 15u * w[7];
  return 0;
}

/* Reads one byte of every page of this process's BPF map mappings (libbpf's ring mappings). */
static void touch_bpf_mappings(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return;
  char line[512];
  long pg = sysconf(_SC_PAGESIZE);
  volatile unsigned sink = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long a, b;
    char perm[8];
    if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) != 3 || perm[0] != 'r' || !strstr(line, "bpf-map")) continue;
    for (unsigned long p = a; p < b; p += (unsigned long)pg) sink += *(volatile unsigned char *)p;
  }
  fclose(f);
  (void)sink;
}

static uint64_t now_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <map-id>\n", argv[0]);
    return 2;
  }
  int fd = bpf_map_get_fd_by_id((uint32_t)strtoul(argv[1], NULL, 10));
  if (fd < 0) {
    fprintf(stderr, "bpf_map_get_fd_by_id: %s\n", strerror(errno));
    return 1;
  }
  struct ring_buffer *rb = ring_buffer__new(fd, on_record, NULL, NULL);
  if (!rb) {
    fprintf(stderr, "ring_buffer__new: %s\n", strerror(errno));
    return 1;
  }
  touch_bpf_mappings();
  uint64_t c0 = now_ns(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ns(CLOCK_MONOTONIC);
  long long total = 0;
  for (;;) {
    int n = ring_buffer__consume(rb);
    if (n < 0) {
      fprintf(stderr, "ring_buffer__consume: %d\n", n);
      return 1;
    }
    if (n == 0) break;
    total += n;
  }
  uint64_t t1 = now_ns(CLOCK_MONOTONIC), c1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
  printf("{\"count\":%lld,\"checksum\":%u,\"ns\":%llu,\"cpu_ns\":%llu}\n", total, checksum,
         (unsigned long long)(t1 - t0), (unsigned long long)(c1 - c0));
  ring_buffer__free(rb);
  return 0;
}
