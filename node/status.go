package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openpool/openpool/p2p"
)

// Status is the node's self-report, served as JSON at GET /status.
type Status struct {
	Peer         string                `json:"peer"`
	Version      string                `json:"version"`
	Addrs        []string              `json:"addrs"`
	IdentityPath string                `json:"identity_path,omitempty"`
	Uptime       string                `json:"uptime"`
	Connected    int                   `json:"connected_peers"`
	RoutingTable int                   `json:"dht_routing_table"`
	Bandwidth    BandwidthStatus       `json:"bandwidth"`
	Hardware     p2p.Hardware          `json:"hardware"`
	Pools        map[string]PoolStatus `json:"pools"`
}

// BandwidthStatus is the node's libp2p traffic.
type BandwidthStatus struct {
	TotalIn  int64   `json:"total_in_bytes"`
	TotalOut int64   `json:"total_out_bytes"`
	RateIn   float64 `json:"rate_in_bytes_per_s"`
	RateOut  float64 `json:"rate_out_bytes_per_s"`
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
		Hardware:     n.hardware,
		Pools:        map[string]PoolStatus{},
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

type statusServer struct {
	addr string
	srv  *http.Server
	done chan error
}

func startStatusServer(n *Node, addr string) (*statusServer, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &nodeCollector{n: n})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(n.Status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status API: %w", err)
	}
	s := &statusServer{
		addr: ln.Addr().String(),
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
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
// in global state.
type nodeCollector struct{ n *Node }

var (
	descMembers   = prometheus.NewDesc("openpool_pool_members", "Members of a pool by state.", []string{"pool", "state"}, nil)
	descRejected  = prometheus.NewDesc("openpool_membership_rejected_total", "Membership messages refused by the validator.", []string{"pool", "reason"}, nil)
	descDelivered = prometheus.NewDesc("openpool_membership_delivered_total", "Membership messages delivered.", []string{"pool"}, nil)
	descPeers     = prometheus.NewDesc("openpool_connected_peers", "Connected libp2p peers.", nil, nil)
	descBytes     = prometheus.NewDesc("openpool_libp2p_bytes_total", "libp2p bytes by direction.", []string{"direction"}, nil)
	descPSReject  = prometheus.NewDesc("openpool_pubsub_rejected_total", "Gossipsub messages rejected, by topic and reason.", []string{"topic", "reason"}, nil)
)

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMembers, descRejected, descDelivered, descPeers, descBytes, descPSReject} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	ch <- prometheus.MustNewConstMetric(descPeers, prometheus.GaugeValue, float64(len(n.stack.Host.Network().Peers())))
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
