// Lab 12.1 version 1 (naive) in C: the reference clang -O2 builds for the tsbpf-assembled program.
// Hash map keyed by IP protocol; lookup, then increment or insert. Same paths and actions as the seed.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef ACTION_PASS
#define ACTION_PASS XDP_PASS
#endif
#ifndef ACTION_DROP
#define ACTION_DROP XDP_DROP
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} naive_counter SEC(".maps");

SEC("xdp")
int naive(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *data_end = (void *)(long)ctx->data_end;

	if (data + 14 > data_end)
		return ACTION_DROP;
	if (*(__u16 *)(data + 12) != __builtin_bswap16(0x0800))
		return ACTION_DROP;
	if (data + 34 > data_end)
		return ACTION_DROP;
	__u32 key = data[23];
	__u64 *count = bpf_map_lookup_elem(&naive_counter, &key);
	if (count) {
		*count += 1;
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&naive_counter, &key, &one, BPF_ANY);
	}
	return ACTION_PASS;
}

char LICENSE[] SEC("license") = "GPL";
