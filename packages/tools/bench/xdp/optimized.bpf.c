// Lab 12.1 version 2 (optimized) in C: per-CPU array indexed by IP protocol, early exit.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef ACTION_PASS
#define ACTION_PASS XDP_PASS
#endif

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} optimized_stats SEC(".maps");

SEC("xdp")
int optimized(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *data_end = (void *)(long)ctx->data_end;

	if (data + 34 > data_end)
		return ACTION_PASS;
	if (*(__u16 *)(data + 12) != __builtin_bswap16(0x0800))
		return ACTION_PASS;
	__u32 key = data[23];
	__u64 *count = bpf_map_lookup_elem(&optimized_stats, &key);
	if (count)
		*count += 1;
	return ACTION_PASS;
}

char LICENSE[] SEC("license") = "GPL";
