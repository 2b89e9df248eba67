// Lab 12.1 version 3 (ultra) in C: one per-CPU {tcp, udp, icmp, other} struct, protocol switch.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef ACTION_PASS
#define ACTION_PASS XDP_PASS
#endif

struct stats {
	__u64 tcp, udp, icmp, other;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct stats);
	__uint(max_entries, 1);
} ultra_stats SEC(".maps");

SEC("xdp")
int ultra(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *data_end = (void *)(long)ctx->data_end;

	if (data + 34 > data_end)
		return ACTION_PASS;
	if (*(__u16 *)(data + 12) != __builtin_bswap16(0x0800))
		return ACTION_PASS;
	__u8 proto = data[23];
	__u32 key = 0;
	struct stats *s = bpf_map_lookup_elem(&ultra_stats, &key);
	if (!s)
		return ACTION_PASS;
	if (proto == 6)
		s->tcp++;
	else if (proto == 17)
		s->udp++;
	else if (proto == 1)
		s->icmp++;
	else
		s->other++;
	return ACTION_PASS;
}

char LICENSE[] SEC("license") = "GPL";
