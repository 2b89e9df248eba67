// Load generator for the `live` bench suites: a tight loop of getppid() syscalls, each carrying
// its sequence number in the first argument (getppid ignores it; raw_syscalls:sys_enter sees it
// as args[0], so the consumer can check every event arrived exactly once and in order).
//
//   syscall_loop COUNT [RATE_PER_SEC]
//
// Waits for one line on stdin (the tracer is attached by then), runs COUNT calls as fast as
// possible or paced to RATE_PER_SEC (pacing reads the vDSO clock: no extra syscalls), then prints
// {"calls":N,"ns":T,"nsPerCall":X} on stdout.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static inline unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s COUNT [RATE_PER_SEC]\n", argv[0]);
		return 2;
	}
	unsigned long long count = strtoull(argv[1], NULL, 10);
	double rate = argc > 2 ? strtod(argv[2], NULL) : 0;
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	unsigned long long t0 = now_ns();
	if (rate > 0) {
		double ns_per_call = 1e9 / rate;
		for (unsigned long long i = 0; i < count; i++) {
			if ((i & 15) == 0) {
				unsigned long long due = t0 + (unsigned long long)(i * ns_per_call);
				while (now_ns() < due)
					;
			}
			syscall(SYS_getppid, i);
		}
	} else {
		for (unsigned long long i = 0; i < count; i++)
			syscall(SYS_getppid, i);
	}
	unsigned long long t1 = now_ns();
	printf("{\"calls\":%llu,\"ns\":%llu,\"nsPerCall\":%.2f,\"start\":%llu}\n", count, t1 - t0, (double)(t1 - t0) / (double)count, t0);
	return 0;
}
