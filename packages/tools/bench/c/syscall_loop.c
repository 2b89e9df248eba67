// Load generator for the `live` bench suites: a tight loop of syscalls, each carrying its
// sequence number in an argument the syscall ignores (raw_syscalls:sys_enter sees it, so the
// consumer can check every event arrived exactly once and in order).
//
//   syscall_loop COUNT [RATE_PER_SEC] [getppid|close|nosys]
//
//   getppid (default)  getppid(seq): seq in args[0]
//   close              close(-1, seq): fails with EBADF at once; seq in args[1]
//   nosys              syscall 1023 (no such syscall: ENOSYS, the cheapest kernel entry); seq in args[0]
//
// Waits for one line on stdin (the tracer is attached by then), runs COUNT calls as fast as
// possible or paced to RATE_PER_SEC (pacing reads the vDSO clock: no extra syscalls), then prints
// {"calls":N,"ns":T,"nsPerCall":X} on stdout.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	const char *which = argc > 3 ? argv[3] : "getppid";
	long nr = SYS_getppid, a0 = 0, seq_in_a1 = 0;
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
			if (seq_in_a1)
				syscall(nr, a0, i);
			else
				syscall(nr, i);
		}
	} else if (seq_in_a1) {
		for (unsigned long long i = 0; i < count; i++)
			syscall(nr, a0, i);
	} else {
		for (unsigned long long i = 0; i < count; i++)
			syscall(nr, i);
	}
	unsigned long long t1 = now_ns();
	printf("{\"calls\":%llu,\"ns\":%llu,\"nsPerCall\":%.2f,\"start\":%llu}\n", count, t1 - t0, (double)(t1 - t0) / (double)count, t0);
	return 0;
}
