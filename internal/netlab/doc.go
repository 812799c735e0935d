// Package netlab builds network labs out of Linux network namespaces: N
// nodes, each a namespace with one interface, joined in a star to a router
// namespace in which a userspace WAN emulator forwards their frames with
// per-link delay, jitter and loss; tc tbf shapes bandwidth; links can be
// cut and groups partitioned at run time; nodes can sit behind NAT; and
// processes (such as the openpool binary) run inside nodes.
//
// The kernel of the machines this project runs on has no netem, hence the
// emulator: each router-side veth end has an AF_PACKET socket, opened by a
// thread that joined the router namespace (sockets keep their namespace),
// read and written in batches (recvmmsg, sendmmsg) through Go's poller.
// Frames wait in per-link FIFO delay lines (one scheduler goroutine and a
// heap of line heads, not a goroutine or timer per frame), with bounded
// length and pooled buffers. The emulator runs inside the process that
// built the lab, rather than in a helper process, so that the lab is one
// object: cuts, partitions and reshaping are method calls, counters are
// read directly, and Close stops everything. The price is that it shares
// that process's CPU: a test that burns CPU in-process delays frames (see
// Lab.EmulatorStats).
//
// Delay model: a link's Delay is the one-way latency between its node and
// the router, added in each direction, so node a to node b takes
// Delay(a)+Delay(b) one way and twice that for a round trip; loss applies
// independently on each link crossed. See docs/NETLAB.md.
//
// Everything that needs root is exercised by tests behind the lab build
// tag (scripts/netlab-check.sh); the package itself builds everywhere.
package netlab
