package node

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openpool/openpool/p2p"
)

// MaxStatusPeers bounds the connected peers listed in Status: a bootstrap
// node may hold thousands of connections, and the page and JSON stay small.
// Status.Connected always has the full count.
const MaxStatusPeers = 200

// Status is the node's self-report, served as JSON at GET /status and
// rendered by the status page at GET /.
type Status struct {
	Peer         string                `json:"peer"`
	Version      string                `json:"version"`
	Addrs        []string              `json:"addrs"`
	IdentityPath string                `json:"identity_path,omitempty"`
	Uptime       string                `json:"uptime"`
	Connected    int                   `json:"connected_peers"`
	RoutingTable int                   `json:"dht_routing_table"`
	Bandwidth    BandwidthStatus       `json:"bandwidth"`
	Resources    ResourceStatus        `json:"resources"`
	Hardware     p2p.Hardware          `json:"hardware"`
	Pools        map[string]PoolStatus `json:"pools"`
	// Peers lists at most MaxStatusPeers connected peers, sorted by ID.
	Peers []PeerStatus `json:"peers"`
	// Sections holds what other components contributed with
	// SetStatusSection (for example rounds, checkpoints, chain state).
	Sections map[string]any `json:"sections,omitempty"`
}

// BandwidthStatus is the node's libp2p traffic.
type BandwidthStatus struct {
	TotalIn  int64   `json:"total_in_bytes"`
	TotalOut int64   `json:"total_out_bytes"`
	RateIn   float64 `json:"rate_in_bytes_per_s"`
	RateOut  float64 `json:"rate_out_bytes_per_s"`
}

// ResourceStatus is what the node holds: the libp2p resource manager's
// system scope (all zero when resources are unlimited) and the Go runtime.
type ResourceStatus struct {
	ConnsInbound    int   `json:"conns_inbound"`
	ConnsOutbound   int   `json:"conns_outbound"`
	StreamsInbound  int   `json:"streams_inbound"`
	StreamsOutbound int   `json:"streams_outbound"`
	FDs             int   `json:"fds"`
	MemoryBytes     int64 `json:"memory_bytes"`
	Goroutines      int   `json:"goroutines"`
	// Limits are the resource manager's system-wide limits; nil when
	// resources are unlimited.
	Limits *ResourceLimits `json:"limits,omitempty"`
}

// ResourceLimits are the libp2p resource manager's system-scope limits.
// They scale with the machine's memory (inbound connections: 64 plus 64
// per GiB of an eighth of it) and with the open-file limit (half of it).
type ResourceLimits struct {
	ConnsInbound  int   `json:"conns_inbound"`
	ConnsOutbound int   `json:"conns_outbound"`
	Conns         int   `json:"conns"`
	Streams       int   `json:"streams"`
	FDs           int   `json:"fds"`
	MemoryBytes   int64 `json:"memory_bytes"`
}

// PeerStatus is one connected peer.
type PeerStatus struct {
	ID string `json:"id"`
	// Addrs are the remote addresses of the open connections.
	Addrs []string `json:"addrs"`
	// Direction of the oldest connection: "inbound" or "outbound".
	Direction string `json:"direction"`
	Streams   int    `json:"streams"`
	// Relayed is set when every connection goes through a circuit relay.
	Relayed bool `json:"relayed,omitempty"`
	// LatencyMS is the peerstore's moving average of round-trip times; 0
	// when not measured yet.
	LatencyMS float64 `json:"latency_ms,omitempty"`
}

// PoolStatus is the membership of one pool.
type PoolStatus struct {
	Members []p2p.Member        `json:"members"`
	Stats   p2p.MembershipStats `json:"stats"`
}

// Status collects the node's current status.
func (n *Node) Status() Status {
	st := Status{
		Peer:         n.ID().String(),
		Version:      Version,
		IdentityPath: n.identityPath,
		Uptime:       time.Since(n.started).Round(time.Second).String(),
		Connected:    len(n.stack.Host.Network().Peers()),
		RoutingTable: n.stack.DHT.RoutingTable().Size(),
		Resources:    n.resources(),
		Hardware:     n.hardware,
		Pools:        map[string]PoolStatus{},
		Peers:        n.peers(MaxStatusPeers),
		Sections:     n.sections.collect(),
	}
	for _, a := range n.Addrs() {
		st.Addrs = append(st.Addrs, a.String())
	}
	bw := n.stack.Bandwidth.GetBandwidthTotals()
	st.Bandwidth = BandwidthStatus{TotalIn: bw.TotalIn, TotalOut: bw.TotalOut, RateIn: bw.RateIn, RateOut: bw.RateOut}
	for _, pool := range n.Pools() {
		m, err := n.membership(pool)
		if err != nil {
			continue
		}
		st.Pools[pool] = PoolStatus{Members: m.Members(), Stats: m.Stats()}
	}
	return st
}

func (n *Node) resources() ResourceStatus {
	var rs ResourceStatus
	_ = n.stack.Host.Network().ResourceManager().ViewSystem(func(s network.ResourceScope) error {
		st := s.Stat()
		rs = ResourceStatus{
			ConnsInbound: st.NumConnsInbound, ConnsOutbound: st.NumConnsOutbound,
			StreamsInbound: st.NumStreamsInbound, StreamsOutbound: st.NumStreamsOutbound,
			FDs: st.NumFD, MemoryBytes: st.Memory,
		}
		if l, ok := s.(interface{ Limit() rcmgr.Limit }); ok {
			lim := l.Limit()
			rs.Limits = &ResourceLimits{
				ConnsInbound: lim.GetConnLimit(network.DirInbound), ConnsOutbound: lim.GetConnLimit(network.DirOutbound),
				Conns: lim.GetConnTotalLimit(), Streams: lim.GetStreamTotalLimit(), FDs: lim.GetFDLimit(), MemoryBytes: lim.GetMemoryLimit(),
			}
		}
		return nil
	})
	rs.Goroutines = runtime.NumGoroutine()
	return rs
}

// peers lists up to limit connected peers, sorted by ID.
func (n *Node) peers(limit int) []PeerStatus {
	nw := n.stack.Host.Network()
	ids := nw.Peers()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]PeerStatus, 0, len(ids))
	for _, id := range ids {
		conns := nw.ConnsToPeer(id)
		if len(conns) == 0 {
			continue // disconnected since Peers()
		}
		slices.SortFunc(conns, func(a, b network.Conn) int { return a.Stat().Opened.Compare(b.Stat().Opened) })
		ps := PeerStatus{ID: id.String(), Direction: directionName(conns[0].Stat().Direction), Relayed: true}
		for _, c := range conns {
			ps.Addrs = append(ps.Addrs, c.RemoteMultiaddr().String())
			ps.Streams += len(c.GetStreams())
			ps.Relayed = ps.Relayed && c.Stat().Limited
		}
		if l := n.stack.Host.Peerstore().LatencyEWMA(id); l > 0 {
			ps.LatencyMS = float64(l.Microseconds()) / 1000
		}
		out = append(out, ps)
	}
	return out
}

func directionName(d network.Direction) string {
	switch d {
	case network.DirInbound:
		return "inbound"
	case network.DirOutbound:
		return "outbound"
	}
	return "unknown"
}

// SetStatusSection adds a named section to the node's status: f is called
// each time the status is collected (GET /status, the status page) and its
// result is encoded as JSON under "sections". The page renders a section
// generically: a list of objects as a table, an object as key/value rows.
// f must be fast and safe for concurrent use; a panic in f is reported as
// the section's value instead of failing the status. A nil f removes the
// section; a second call with the same name replaces it. Components that
// the node does not own this way report rounds, checkpoint versions or
// chain state without the status code knowing them.
func (n *Node) SetStatusSection(name string, f func() any) {
	n.sections.set(name, f)
}

// statusSections are the providers registered with SetStatusSection; the
// zero value is ready to use.
type statusSections struct {
	mu        sync.Mutex
	providers map[string]func() any
}

func (s *statusSections) set(name string, f func() any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		delete(s.providers, name)
		return
	}
	if s.providers == nil {
		s.providers = make(map[string]func() any)
	}
	s.providers[name] = f
}

// collect calls every provider outside the lock, so a provider may itself
// read the node's state.
func (s *statusSections) collect() map[string]any {
	s.mu.Lock()
	type named struct {
		name string
		f    func() any
	}
	list := make([]named, 0, len(s.providers))
	for name, f := range s.providers {
		list = append(list, named{name, f})
	}
	s.mu.Unlock()
	if len(list) == 0 {
		return nil
	}
	slices.SortFunc(list, func(a, b named) int { return cmp.Compare(a.name, b.name) })
	out := make(map[string]any, len(list))
	for _, p := range list {
		out[p.name] = callSection(p.f)
	}
	return out
}

func callSection(f func() any) (v any) {
	defer func() {
		if r := recover(); r != nil {
			v = map[string]string{"error": fmt.Sprintf("status section panicked: %v", r)}
		}
	}()
	v = f()
	// A value that cannot be encoded would break the whole document.
	if _, err := json.Marshal(v); err != nil {
		return map[string]string{"error": fmt.Sprintf("status section: %v", err)}
	}
	return v
}

var heapLiveMetric = regexp.MustCompile(`^/gc/heap/live:bytes$`)

type statusServer struct {
	addr string
	srv  *http.Server
	done chan error
}

func startStatusServer(n *Node, addr string) (*statusServer, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		// go_gc_heap_live_bytes (the heap marked live by the last GC) is the
		// series that shows a leak: unlike heap in use it does not saw-tooth
		// with the GC cycle.
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: heapLiveMetric})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&nodeCollector{n: n},
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(n.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	registerStatusPage(mux)
	// Profiles, for finding what grows in a node that has run for weeks
	// (go tool pprof http://127.0.0.1:PORT/debug/pprof/heap).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status API: %w", err)
	}
	var h http.Handler = mux
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		h = loopbackHostOnly(mux)
	} else {
		n.log.Warn("status API is reachable from the network and has no authentication; bind it to 127.0.0.1 unless a firewall or proxy guards it", "addr", ln.Addr().String())
	}
	s := &statusServer{
		addr: ln.Addr().String(),
		srv:  &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 2 * time.Minute, IdleTimeout: time.Minute},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// loopbackHostOnly refuses requests whose Host header names anything but
// localhost or an IP address. A server on loopback is then out of reach of
// DNS rebinding: a web page the operator visits cannot point its own
// domain at 127.0.0.1 and read the status through the browser.
func loopbackHostOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host != "localhost" && net.ParseIP(host) == nil {
			http.Error(w, "status API: Host must be localhost or an IP address", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *statusServer) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// nodeCollector reads the node's state at scrape time, so no metric is kept
// in global state. Goroutines, heap and open file descriptors come from the
// Go and process collectors (go_goroutines, process_open_fds, ...).
type nodeCollector struct{ n *Node }

var (
	descMembers   = prometheus.NewDesc("openpool_pool_members", "Members of a pool by state.", []string{"pool", "state"}, nil)
	descRejected  = prometheus.NewDesc("openpool_membership_rejected_total", "Membership messages refused by the validator.", []string{"pool", "reason"}, nil)
	descDelivered = prometheus.NewDesc("openpool_membership_delivered_total", "Membership messages delivered.", []string{"pool"}, nil)
	descPeers     = prometheus.NewDesc("openpool_connected_peers", "Connected libp2p peers.", nil, nil)
	descBytes     = prometheus.NewDesc("openpool_libp2p_bytes_total", "libp2p bytes by direction.", []string{"direction"}, nil)
	descPSReject  = prometheus.NewDesc("openpool_pubsub_rejected_total", "Gossipsub messages rejected, by topic and reason.", []string{"topic", "reason"}, nil)
	descRTSize    = prometheus.NewDesc("openpool_dht_routing_table_peers", "Peers in the DHT routing table.", nil, nil)
	descConns     = prometheus.NewDesc("openpool_libp2p_connections", "Open libp2p connections by direction.", []string{"direction"}, nil)
	descStreams   = prometheus.NewDesc("openpool_libp2p_streams", "Open libp2p streams by direction.", []string{"direction"}, nil)
	descRcmgrConn = prometheus.NewDesc("openpool_rcmgr_connections", "Connections the libp2p resource manager accounts for in its system scope, by direction.", []string{"direction"}, nil)
	descRcmgrStr  = prometheus.NewDesc("openpool_rcmgr_streams", "Streams the libp2p resource manager accounts for in its system scope, by direction.", []string{"direction"}, nil)
	descRcmgrFD   = prometheus.NewDesc("openpool_rcmgr_fds", "File descriptors the libp2p resource manager accounts for.", nil, nil)
	descRcmgrMem  = prometheus.NewDesc("openpool_rcmgr_memory_bytes", "Memory reserved through the libp2p resource manager.", nil, nil)
	descRcmgrLim  = prometheus.NewDesc("openpool_rcmgr_limit", "The libp2p resource manager's system-wide limit, by resource (absent when unlimited).", []string{"resource"}, nil)
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMembers, descRejected, descDelivered, descPeers, descBytes, descPSReject,
		descRTSize, descConns, descStreams, descRcmgrConn, descRcmgrStr, descRcmgrFD, descRcmgrMem, descRcmgrLim} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	nw := n.stack.Host.Network()
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(len(nw.Peers())))
	ch <- prometheus.MustNewConstMetric(descRTSize, prometheus.GaugeValue, float64(n.stack.DHT.RoutingTable().Size()))
	var conns, streams [3]int // indexed by network.Direction
	dir := func(d network.Direction) int { return min(max(int(d), 0), 2) }
	for _, cn := range nw.Conns() {
		conns[dir(cn.Stat().Direction)]++
		for _, s := range cn.GetStreams() {
			streams[dir(s.Stat().Direction)]++
		}
	}
	for _, d := range []network.Direction{network.DirInbound, network.DirOutbound} {
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(conns[d]), directionName(d))
		ch <- prometheus.MustNewConstMetric(descStreams, prometheus.GaugeValue, float64(streams[d]), directionName(d))
	}
	rs := n.resources()
	ch <- prometheus.MustNewConstMetric(descRcmgrConn, prometheus.GaugeValue, float64(rs.ConnsInbound), "inbound")
	ch <- prometheus.MustNewConstMetric(descRcmgrConn, prometheus.GaugeValue, float64(rs.ConnsOutbound), "outbound")
	ch <- prometheus.MustNewConstMetric(descRcmgrStr, prometheus.GaugeValue, float64(rs.StreamsInbound), "inbound")
	ch <- prometheus.MustNewConstMetric(descRcmgrStr, prometheus.GaugeValue, float64(rs.StreamsOutbound), "outbound")
	ch <- prometheus.MustNewConstMetric(descRcmgrFD, prometheus.GaugeValue, float64(rs.FDs))
	ch <- prometheus.MustNewConstMetric(descRcmgrMem, prometheus.GaugeValue, float64(rs.MemoryBytes))
	if l := rs.Limits; l != nil {
		for _, r := range []struct {
			name string
			v    float64
		}{{"conns_inbound", float64(l.ConnsInbound)}, {"conns_outbound", float64(l.ConnsOutbound)}, {"conns", float64(l.Conns)},
			{"streams", float64(l.Streams)}, {"fds", float64(l.FDs)}, {"memory_bytes", float64(l.MemoryBytes)}} {
			ch <- prometheus.MustNewConstMetric(descRcmgrLim, prometheus.GaugeValue, r.v, r.name)
		}
	}
	bw := n.stack.Bandwidth.GetBandwidthTotals()
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(bw.TotalIn), "in")
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(bw.TotalOut), "out")
	for topic, reasons := range n.stack.Rejects.Snapshot() {
		for reason, v := range reasons {
			ch <- prometheus.MustNewConstMetric(descPSReject, prometheus.CounterValue, float64(v), topic, reason)
		}
	}
	for _, pool := range n.Pools() {
		m, err := n.membership(pool)
		if err != nil {
			continue
		}
		counts := map[string]int{}
		for _, mem := range m.Members() {
			counts[mem.State.String()]++
		}
		for _, s := range []p2p.MemberState{p2p.StateAlive, p2p.StateSuspect, p2p.StateDead, p2p.StateLeft} {
			ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(counts[s.String()]), pool, s.String())
		}
		st := m.Stats()
		ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(st.Delivered), pool)
		for reason, v := range st.Rejected {
			ch <- prometheus.MustNewConstMetric(descRejected, prometheus.CounterValue, float64(v), pool, reason)
		}
	}
}
