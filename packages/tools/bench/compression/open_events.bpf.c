// Compression before the ring, for the `compression` bench suite: two tracers of syscalls:sys_enter_openat
// for one process, attached together so they see the same opens.
//
// plain:   the 40-byte header of `tsbpf trace open` ({u64 ts; u32 pid, tid, flags, len; char comm[16]})
//          followed by the filename with its NUL.
// compact: a 16-byte header, then only what changed since the last record sent on this CPU:
//            u8  what     COMPACT_PIDS (pid, tid follow), COMPACT_COMM (comm follows), COMPACT_FULL_TS
//            u8  cpu      whose "last sent" state the reader updates
//            u8  prefix   bytes of the filename shared with the last filename sent on this CPU
//            u8  pad
//            u16 suffix   bytes of the filename after the prefix (NUL not sent)
//            u16 pad
//            u32 flags
//            u32 ts       ns since the last record sent on this CPU (with COMPACT_FULL_TS: the absolute
//                         time's low half, its high half in a u32 right after the header)
//          [u32 ts_high] [u32 pid, u32 tid] [char comm[16]] suffix bytes
// The "last sent" state is updated only after a record is in the ring, so a lost event never desyncs
// the reader, which keeps the same state per CPU and rebuilds every event exactly.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_NAME 256
#define COMPACT_PIDS 1
#define COMPACT_COMM 2
#define COMPACT_FULL_TS 4

const volatile __u32 target_tgid = 0;

struct sys_enter_openat {           /* events/syscalls/sys_enter_openat/format */
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 dfd;
	const char *filename;
	__u64 flags;
	__u64 mode;
};

struct plain_hdr {
	__u64 ts;
	__u32 pid, tid, flags, len;
	char comm[16];
};

struct compact_hdr {
	__u8 what, cpu, prefix, pad;
	__u16 suffix, pad2;
	__u32 flags;
	__u32 ts;
};

struct last_sent {
	__u64 ts;
	__u64 pid_tgid;
	char comm[16];
	__u32 len;
	char name[MAX_NAME];
};

struct scratch {
	char name[MAX_NAME];
	char rec[64 + 2 * MAX_NAME];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} plain_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} compact_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last_sent);
} last SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

static __always_inline void count_lost(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &which);
	if (n)
		*n += 1;
}

SEC("tp/syscalls/sys_enter_openat")
int plain(struct sys_enter_openat *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 key = 0;
	struct scratch *s;
	struct plain_hdr *h;
	long len;

	if ((id >> 32) != target_tgid)
		return 0;
	s = bpf_map_lookup_elem(&scratch_map, &key);
	if (!s)
		return 0;
	h = (struct plain_hdr *)s->rec;
	len = bpf_probe_read_user_str(s->rec + sizeof(*h), MAX_NAME, ctx->filename);
	if (len <= 0)
		return 0;
	h->ts = bpf_ktime_get_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->flags = ctx->flags;
	h->len = len;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	if (bpf_ringbuf_output(&plain_events, s->rec, (sizeof(*h) + len) & 0x1ff, 0))
		count_lost(0);
	return 0;
}

SEC("tp/syscalls/sys_enter_openat")
int compact(struct sys_enter_openat *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), ts, delta;
	__u32 key = 1, zero = 0, prefix = 0, suffix, off;
	struct compact_hdr *h;
	struct last_sent *l;
	struct scratch *s;
	char comm[16];
	long len;
	int i;

	if ((id >> 32) != target_tgid)
		return 0;
	s = bpf_map_lookup_elem(&scratch_map, &key);
	l = bpf_map_lookup_elem(&last, &zero);
	if (!s || !l)
		return 0;
	len = bpf_probe_read_user_str(s->name, MAX_NAME, ctx->filename);
	if (len <= 0 || len > MAX_NAME)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_get_current_comm(comm, sizeof(comm));

	/* Shared prefix with the last filename sent on this CPU (at most 255, never the NUL). */
	for (i = 0; i < MAX_NAME - 1; i++) {
		if (i >= len - 1 || i >= (int)l->len - 1 || s->name[i] != l->name[i])
			break;
		prefix++;
	}
	suffix = (len - 1 - prefix) & 0x1ff;

	h = (struct compact_hdr *)s->rec;
	h->what = 0;
	h->cpu = bpf_get_smp_processor_id();
	h->prefix = prefix;
	h->pad = 0;
	h->suffix = suffix;
	h->pad2 = 0;
	h->flags = ctx->flags;
	delta = ts - l->ts;
	off = sizeof(*h);
	if (l->ts == 0 || delta >> 32) {
		/* First record on this CPU, or more than 4.29 s since the last: absolute time, high half after the header. */
		h->what |= COMPACT_FULL_TS;
		h->ts = (__u32)ts;
		*(__u32 *)(s->rec + sizeof(*h)) = ts >> 32;
		off += 4;
	} else {
		h->ts = delta;
	}
	if (id != l->pid_tgid) {
		h->what |= COMPACT_PIDS;
		*(__u32 *)(s->rec + (off & 0x1f)) = id >> 32;
		*(__u32 *)(s->rec + ((off + 4) & 0x1f)) = (__u32)id;
		off += 8;
	}
	if (*(__u64 *)comm != *(__u64 *)l->comm || *(__u64 *)(comm + 8) != *(__u64 *)(l->comm + 8)) {
		h->what |= COMPACT_COMM;
		__builtin_memcpy(s->rec + (off & 0x1f), comm, 16);
		off += 16;
	}
	off &= 0x3f;
	bpf_probe_read_kernel(s->rec + off, suffix, s->name + (prefix & 0xff));
	if (bpf_ringbuf_output(&compact_events, s->rec, (off + suffix) & 0x3ff, 0)) {
		count_lost(1);
		return 0;
	}
	/* In the ring: this is now what the reader knows about this CPU. */
	l->ts = ts;
	l->pid_tgid = id;
	__builtin_memcpy(l->comm, comm, 16);
	l->len = len;
	bpf_probe_read_kernel(l->name, len & 0x1ff, s->name);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
