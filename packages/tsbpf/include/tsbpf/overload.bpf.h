/* SPDX-License-Identifier: MIT */
/*
 * tsbpf's ring buffer overload policy for C BPF programs: the same contract as tsbpf's
 * asmOverloadGate(), so OverloadGuard.fromMap(obj.maps.tsbpf_overload) reports lost, sampledOut and
 * the current sampling rate.
 *
 *   #include <tsbpf/overload.bpf.h>          // after vmlinux.h (or linux/bpf.h) and bpf_helpers.h
 *
 *   TSBPF_OVERLOAD_MAP(tsbpf_overload);        // the per-CPU state map
 *
 *   if (!tsbpf_overload_admit(&events, RING_SIZE, &tsbpf_overload, is_low_priority, &TSBPF_OVERLOAD_DEFAULTS))
 *       return 0;                                // sampled away (counted)
 *   e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
 *   if (!e) { tsbpf_overload_lost(&tsbpf_overload); return 0; }
 *
 * Policy: for a low-priority event, when the ring's unconsumed bytes reach start_percent of its size,
 * keep one event in 2^k, k = 1 + (fill% - start_percent) / step_percent, at most max_shift; the others
 * are counted in sampled_out. High-priority events are always admitted. Failed reservations are
 * counted in lost (the first field, so the map also works as a tsbpf drop counter).
 */
#ifndef TSBPF_OVERLOAD_BPF_H
#define TSBPF_OVERLOAD_BPF_H

struct tsbpf_overload_state {
	__u64 lost;        /* reservations that failed: the ring was full */
	__u64 sampled_out; /* low-priority events the policy did not send */
	__u64 seq;         /* low-priority events seen while sampling */
	__u64 shift;       /* the sampling last applied: 1 in 2^shift kept */
};

struct tsbpf_overload_thresholds {
	__u32 start_percent; /* fill level where sampling starts */
	__u32 step_percent;  /* each step above it halves the share kept */
	__u32 max_shift;     /* at most 1 in 2^max_shift kept */
};

static const struct tsbpf_overload_thresholds TSBPF_OVERLOAD_DEFAULTS = { 50, 10, 6 };

#define TSBPF_OVERLOAD_MAP(name)                                  \
	struct {                                                      \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                  \
		__uint(max_entries, 1);                                   \
		__type(key, __u32);                                       \
		__type(value, struct tsbpf_overload_state);               \
	} name SEC(".maps")

/* Returns 1 when the event should be sent, 0 when it was sampled away (and counted). */
static __always_inline int tsbpf_overload_admit(void *ring, __u64 ring_size, void *state_map, int low_priority,
						const struct tsbpf_overload_thresholds *th)
{
	struct tsbpf_overload_state *st;
	__u32 zero = 0;
	__u64 fill, shift = 0;

	if (!low_priority)
		return 1;
	fill = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) * 100 / ring_size;
	if (fill >= th->start_percent) {
		shift = 1 + (fill - th->start_percent) / th->step_percent;
		if (shift > th->max_shift)
			shift = th->max_shift;
	}
	st = bpf_map_lookup_elem(state_map, &zero);
	if (!st)
		return 1;
	st->shift = shift;
	if (!shift)
		return 1;
	st->seq++;
	if ((st->seq & ((1ULL << shift) - 1)) == 0)
		return 1;
	st->sampled_out++;
	return 0;
}

/* Counts one event lost because the reservation failed. */
static __always_inline void tsbpf_overload_lost(void *state_map)
{
	struct tsbpf_overload_state *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(state_map, &zero);
	if (st)
		__sync_fetch_and_add(&st->lost, 1);
}

#endif /* TSBPF_OVERLOAD_BPF_H */
