/*
 * map_ops: the C reference for tsbpf's `maps` and `batch` bench suites.
 *
 * Measures, with Debian's libbpf, what user space pays per BPF map operation:
 *   - one bpf_map_lookup_elem / bpf_map_update_elem (ns/op, value "decoded" = summed into a u64),
 *   - a whole-map bpf_map_lookup_batch / update_batch / delete_batch, per element,
 *   - the same N keys one call at a time (for the batch speedup).
 * The map is u32 key -> u64 value (one u64 per possible CPU for per-CPU maps), keys 0..entries-1,
 * value(key, cpu) = key * 3 + 1 + cpu, exactly as the TypeScript side fills its own map.
 *
 * usage: map_ops [--type hash|array|percpu_hash|percpu_array|lru_hash] [--entries N] [--ops N]
 *                [--repeats N] [--mode single|batch|check] [--map-id ID | --pin PATH] [--clock cpu|wall]
 *                [--warmup N] [--threads N]
 *   --mode single  single-op lookup/update timings over --ops operations per repeat
 *   --mode batch   batch vs one-at-a-time lookup/update/delete over all entries
 *   --mode check   only read the map (given by id/pin) with lookup_batch: count + checksums
 * Prints one JSON document on its last stdout line. Samples are per repeat; the caller takes medians.
 * Times are process CPU time (user + system) unless --clock wall.
 *
 * Same work as the TypeScript side, and warm like it: one untimed pass first (--warmup N passes;
 * page faults on the fresh output buffers and cold kernel paths would otherwise land in the first
 * timed repeat, which is the only one when the caller runs --repeats 1). Lookups read ("decode")
 * every value; updates build every value they write, batch updates included (the TypeScript side
 * encodes its arrays into the batch buffers inside the timed region; here the values are written
 * into the batch buffer inside it).
 * --threads N starts N idle threads first: a multi-threaded process (Node always is one) pays more
 * per syscall on an fd, since the kernel's fdget() takes a file reference only when the fd table is
 * shared. Used for attribution only; the headline C numbers are single-threaded.
 */
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CPU time of the process by default: the machine is shared, and wall time would count the time
 * other processes held the CPU. The TypeScript side measures process CPU time too. */
static clockid_t clock_id = CLOCK_PROCESS_CPUTIME_ID;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(clock_id, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, int err) {
  fprintf(stderr, "map_ops: %s: %s\n", what, strerror(err < 0 ? -err : err));
  exit(1);
}

static enum bpf_map_type type_of(const char *s) {
  if (!strcmp(s, "hash")) return BPF_MAP_TYPE_HASH;
  if (!strcmp(s, "array")) return BPF_MAP_TYPE_ARRAY;
  if (!strcmp(s, "percpu_hash")) return BPF_MAP_TYPE_PERCPU_HASH;
  if (!strcmp(s, "percpu_array")) return BPF_MAP_TYPE_PERCPU_ARRAY;
  if (!strcmp(s, "lru_hash")) return BPF_MAP_TYPE_LRU_HASH;
  fprintf(stderr, "map_ops: unknown map type %s\n", s);
  exit(2);
}

static void *idle_thread(void *arg) {
  for (;;) pause();
  return arg;
}

static int ncpus = 1; /* values per key */
static int percpu = 0;

static void fill_value(uint64_t *v, uint32_t key) {
  for (int c = 0; c < ncpus; c++) v[c] = (uint64_t)key * 3 + 1 + c;
}

static uint64_t sum_value(const uint64_t *v) {
  uint64_t s = 0;
  for (int c = 0; c < ncpus; c++) s += v[c];
  return s;
}

static void print_samples(const char *name, const double *xs, int n, int comma) {
  printf("\"%s\":[", name);
  for (int i = 0; i < n; i++) printf("%s%.3f", i ? "," : "", xs[i]);
  printf("]%s", comma ? "," : "");
}

int main(int argc, char **argv) {
  const char *type = "hash", *mode = "single", *pin = NULL;
  int entries = 10000, ops = 200000, repeats = 5, map_id = 0, warmup = 1, threads = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--type") && i + 1 < argc)
      type = argv[++i];
    else if (!strcmp(argv[i], "--entries") && i + 1 < argc)
      entries = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
      ops = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
      repeats = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
      warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
      mode = argv[++i];
    else if (!strcmp(argv[i], "--map-id") && i + 1 < argc)
      map_id = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--pin") && i + 1 < argc)
      pin = argv[++i];
    else if (!strcmp(argv[i], "--clock") && i + 1 < argc) {
      i++;
      clock_id = !strcmp(argv[i], "wall") ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID;
    } else {
      fprintf(stderr, "map_ops: bad argument %s\n", argv[i]);
      return 2;
    }
  }
  if (repeats < 1 || repeats > 1000 || entries < 1 || ops < 1 || warmup < 0 || warmup > 100 || threads < 0 ||
      threads > 64) {
    fprintf(stderr, "map_ops: bad sizes\n");
    return 2;
  }

  int fd;
  if (map_id || pin) {
    fd = map_id ? bpf_map_get_fd_by_id(map_id) : bpf_obj_get(pin);
    if (fd < 0) die("open map", errno);
    struct bpf_map_info info = {0};
    __u32 len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len)) die("map info", errno);
    if (info.key_size != 4 || info.value_size != 8) {
      fprintf(stderr, "map_ops: need a u32 -> u64 map\n");
      return 2;
    }
    entries = info.max_entries;
    percpu = info.type == BPF_MAP_TYPE_PERCPU_HASH || info.type == BPF_MAP_TYPE_PERCPU_ARRAY;
  } else {
    enum bpf_map_type t = type_of(type);
    percpu = t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY;
    /* LRU maps evict before they are full (per-CPU free lists): give them headroom, as the TS side does. */
    fd = bpf_map_create(t, "c_map_ops", 4, 8, t == BPF_MAP_TYPE_LRU_HASH ? entries * 2 : entries, NULL);
    if (fd < 0) die("bpf_map_create", errno);
  }
  if (percpu) ncpus = libbpf_num_possible_cpus();
  for (int i = 0; i < threads; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle_thread, NULL)) die("pthread_create", EAGAIN);
  }
  int is_array = strstr(type, "array") != NULL;

  uint32_t *keys = calloc(entries, sizeof(uint32_t));
  uint64_t *vals = calloc((size_t)entries * ncpus, sizeof(uint64_t));
  uint64_t *one = calloc(ncpus, sizeof(uint64_t));
  double *a = calloc(repeats, sizeof(double)), *b = calloc(repeats, sizeof(double)),
         *c = calloc(repeats, sizeof(double));
  double *d = calloc(repeats, sizeof(double)), *e = calloc(repeats, sizeof(double)),
         *f = calloc(repeats, sizeof(double));
  if (!keys || !vals || !one || !a || !b || !c || !d || !e || !f) die("calloc", ENOMEM);
  for (int i = 0; i < entries; i++) {
    keys[i] = i;
    fill_value(vals + (size_t)i * ncpus, i);
  }
  DECLARE_LIBBPF_OPTS(bpf_map_batch_opts, bopts);

  if (!strcmp(mode, "check")) {
    /* Read everything with lookup_batch: count, sum of keys, sum of values. */
    __u32 n = entries, out_batch = 0;
    int r = bpf_map_lookup_batch(fd, NULL, &out_batch, keys, vals, &n, &bopts);
    if (r < 0 && errno != ENOENT) die("bpf_map_lookup_batch", errno);
    uint64_t ksum = 0, vsum = 0;
    for (__u32 i = 0; i < n; i++) {
      ksum += keys[i];
      vsum += sum_value(vals + (size_t)i * ncpus);
    }
    printf("{\"mode\":\"check\",\"count\":%u,\"keySum\":%llu,\"valueSum\":%llu}\n", n, (unsigned long long)ksum,
           (unsigned long long)vsum);
    return 0;
  }

  /* Fill the map (also warms it). */
  __u32 n = entries;
  if (bpf_map_update_batch(fd, keys, vals, &n, &bopts)) die("bpf_map_update_batch (fill)", errno);

  if (!strcmp(mode, "single")) {
    volatile uint64_t sink = 0;
    for (int w = 0; w < warmup; w++) /* untimed: one pass over the keys */
      for (int i = 0; i < entries; i++) {
        uint32_t k = i;
        if (bpf_map_lookup_elem(fd, &k, one)) die("bpf_map_lookup_elem", errno);
        fill_value(one, k);
        if (bpf_map_update_elem(fd, &k, one, BPF_ANY)) die("bpf_map_update_elem", errno);
      }
    for (int r = 0; r < repeats; r++) {
      uint64_t s = 0;
      double t0 = now_ns();
      for (int i = 0; i < ops; i++) {
        uint32_t k = i % entries;
        if (bpf_map_lookup_elem(fd, &k, one)) die("bpf_map_lookup_elem", errno);
        s += sum_value(one); /* "decode": read the value */
      }
      a[r] = (now_ns() - t0) / ops;
      sink += s;
      t0 = now_ns();
      for (int i = 0; i < ops; i++) {
        uint32_t k = i % entries;
        fill_value(one, k);
        if (bpf_map_update_elem(fd, &k, one, BPF_ANY)) die("bpf_map_update_elem", errno);
      }
      b[r] = (now_ns() - t0) / ops;
    }
    printf("{\"mode\":\"single\",\"type\":\"%s\",\"cpus\":%d,\"entries\":%d,\"ops\":%d,", type, ncpus, entries, ops);
    print_samples("lookupNs", a, repeats, 1);
    print_samples("updateNs", b, repeats, 0);
    printf(",\"sink\":%llu}\n", (unsigned long long)sink);
    return 0;
  }

  if (strcmp(mode, "batch")) {
    fprintf(stderr, "map_ops: unknown mode %s\n", mode);
    return 2;
  }
  /* Batch vs one at a time over all entries; per-element ns. The map is full at each step's start
   * except before the update steps, which refill it after a delete. */
  uint32_t *okeys = calloc(entries, sizeof(uint32_t));
  uint64_t *ovals = calloc((size_t)entries * ncpus, sizeof(uint64_t));
  if (!okeys || !ovals) die("calloc", ENOMEM);
  uint64_t vsum = 0, ksum = 0;
  __u32 count = 0;
  /* Rounds < 0 are the untimed warm-up: their samples land in scratch slots. */
  double *a0 = a, *b0 = b, *c0 = c, *d0 = d, *e0 = e, *f0 = f, scratch[6];
  for (int r = -warmup; r < repeats; r++) {
    if (r < 0) {
      a = scratch;
      b = scratch + 1;
      c = scratch + 2;
      d = scratch + 3;
      e = scratch + 4;
      f = scratch + 5;
    } else {
      a = a0 + r;
      b = b0 + r;
      c = c0 + r;
      d = d0 + r;
      e = e0 + r;
      f = f0 + r;
    }
    /* lookup_batch: the whole map in one call. One untimed call first, as the TypeScript side
     * makes: it leaves the hash table in cache for both, so the timed call measures the batch
     * read and the decode rather than how much of the cache the previous step (10,000 single
     * updates: a few KB of C, much more of Node's JIT code and heap) left to the map. */
    __u32 got = entries, out_batch = 0;
    int rc = bpf_map_lookup_batch(fd, NULL, &out_batch, okeys, ovals, &got, &bopts);
    if (rc < 0 && errno != ENOENT) die("bpf_map_lookup_batch (untimed)", errno);
    got = entries;
    out_batch = 0;
    double t0 = now_ns();
    rc = bpf_map_lookup_batch(fd, NULL, &out_batch, okeys, ovals, &got, &bopts);
    if (rc < 0 && errno != ENOENT) die("bpf_map_lookup_batch", errno);
    vsum = 0;
    ksum = 0;
    for (__u32 i = 0; i < got; i++) {
      ksum += okeys[i];
      vsum += sum_value(ovals + (size_t)i * ncpus);
    }
    *a = (now_ns() - t0) / entries;
    count = got;
    /* lookup one at a time. */
    uint64_t s = 0;
    t0 = now_ns();
    for (int i = 0; i < entries; i++) {
      if (bpf_map_lookup_elem(fd, &keys[i], one)) die("bpf_map_lookup_elem", errno);
      s += sum_value(one);
    }
    *b = (now_ns() - t0) / entries;
    if (s != vsum) {
      fprintf(stderr, "map_ops: batch and single lookups disagree\n");
      return 1;
    }
    /* delete: batch, then refill with update_batch; one at a time, then refill one at a time. */
    if (!is_array) {
      __u32 k = entries;
      t0 = now_ns();
      if (bpf_map_delete_batch(fd, keys, &k, &bopts)) die("bpf_map_delete_batch", errno);
      *e = (now_ns() - t0) / entries;
    }
    __u32 u = entries;
    t0 = now_ns();
    for (int i = 0; i < entries; i++) {
      okeys[i] = i;
      fill_value(ovals + (size_t)i * ncpus, i);
    }
    if (bpf_map_update_batch(fd, okeys, ovals, &u, &bopts)) die("bpf_map_update_batch", errno);
    *c = (now_ns() - t0) / entries;
    if (!is_array) {
      t0 = now_ns();
      for (int i = 0; i < entries; i++)
        if (bpf_map_delete_elem(fd, &keys[i])) die("bpf_map_delete_elem", errno);
      *f = (now_ns() - t0) / entries;
    }
    t0 = now_ns();
    for (int i = 0; i < entries; i++)
      if (bpf_map_update_elem(fd, &keys[i], vals + (size_t)i * ncpus, BPF_ANY)) die("bpf_map_update_elem", errno);
    *d = (now_ns() - t0) / entries;
  }
  printf(
      "{\"mode\":\"batch\",\"type\":\"%s\",\"cpus\":%d,\"entries\":%d,\"count\":%u,\"keySum\":%llu,\"valueSum\":%llu,",
      type, ncpus, entries, count, (unsigned long long)ksum, (unsigned long long)vsum);
  print_samples("lookupBatchNs", a0, repeats, 1);
  print_samples("lookupEachNs", b0, repeats, 1);
  print_samples("updateBatchNs", c0, repeats, 1);
  print_samples("updateEachNs", d0, repeats, 1);
  print_samples("deleteBatchNs", is_array ? NULL : e0, is_array ? 0 : repeats, 1);
  print_samples("deleteEachNs", is_array ? NULL : f0, is_array ? 0 : repeats, 0);
  printf("}\n");
  close(fd);
  return 0;
}
