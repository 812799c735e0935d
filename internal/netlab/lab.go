package netlab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MaxNodes is the most nodes one lab holds: they share one /24.
const MaxNodes = 250

// Names of the interfaces inside the lab's namespaces. Interface names are
// per namespace, so these never collide between labs; only namespace names
// carry the lab's prefix.
const (
	nodeDev = "eth0" // a node's interface
	wanDev  = "wan"  // a NAT's interface toward the router
	lanDev  = "lan"  // a NAT's interface toward its node
)

// lockPath serialises choosing a lab's subnet and prefix between processes.
const lockPath = "/run/netlab.lock"

// natLAN is the private network behind every NAT, the same in every home
// as it would be: node .2, NAT .1.
var (
	natNodeAddr = netip.MustParseAddr("192.168.1.2")
	natGWAddr   = netip.MustParseAddr("192.168.1.1")
)

// Node is one host of the lab: a network namespace with one interface.
type Node struct {
	// Index is the node's position, 0 to N-1.
	Index int
	// Netns is the name of its network namespace (`ip netns exec Netns`).
	Netns string
	// Addr is its address on its own interface.
	Addr netip.Addr
	// Public is where other nodes reach it: Addr for a direct node, its
	// NAT's address for a node behind NAT (which accepts no inbound
	// connection).
	Public netip.Addr
	// NAT is the namespace of its NAT, empty for a direct node.
	NAT string

	lab *Lab
}

// Do runs fn on a thread inside the node's network namespace; sockets it
// opens stay in that namespace (see Lab.Do).
func (n *Node) Do(fn func() error) error { return inNetns(n.Netns, fn) }

// Lab is a star of network namespaces around a router namespace in which
// the WAN emulator forwards frames between the nodes' links. Create it
// with New, stop it with Close.
type Lab struct {
	cfg    config
	prefix string
	router string
	subnet netip.Prefix
	nodes  []*Node
	links  []LinkConfig
	emu    *emulator

	mu      sync.Mutex
	procs   map[*Process]struct{}
	closed  bool
	created []string // namespaces, in creation order
}

type config struct {
	n     int
	link  LinkConfig
	links map[int]LinkConfig
	nat   map[int]bool
	log   *slog.Logger
	seed  uint64
}

// Option configures New.
type Option func(*config) error

// WithNodes sets the number of nodes (default 2).
func WithNodes(n int) Option {
	return func(c *config) error {
		if n < 1 || n > MaxNodes {
			return fmt.Errorf("netlab: %d nodes: want 1 to %d", n, MaxNodes)
		}
		c.n = n
		return nil
	}
}

// WithLink shapes every link not given its own WithNodeLink.
func WithLink(l LinkConfig) Option {
	return func(c *config) error {
		c.link = l
		return l.validate()
	}
}

// WithNodeLink shapes node i's link.
func WithNodeLink(i int, l LinkConfig) Option {
	return func(c *config) error {
		c.links[i] = l
		return l.validate()
	}
}

// WithNAT puts the given nodes each behind its own NAT (a home router):
// they dial out, but cannot be dialed.
func WithNAT(nodes ...int) Option {
	return func(c *config) error {
		for _, i := range nodes {
			c.nat[i] = true
		}
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("netlab: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithSeed fixes the emulator's random draws (loss, jitter), so that a run
// can be repeated; by default they are seeded randomly.
func WithSeed(seed uint64) Option {
	return func(c *config) error {
		c.seed = seed
		return nil
	}
}

// New builds a lab: needs root, ip and tc (and iptables for WithNAT). On
// error everything created so far is removed.
func New(ctx context.Context, opts ...Option) (*Lab, error) {
	cfg := config{n: 2, links: map[int]LinkConfig{}, nat: map[int]bool{}, log: slog.Default(), seed: rand.Uint64()}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	for i := range cfg.links {
		if i < 0 || i >= cfg.n {
			return nil, fmt.Errorf("netlab: link of node %d: the lab has %d nodes", i, cfg.n)
		}
	}
	for i := range cfg.nat {
		if i < 0 || i >= cfg.n {
			return nil, fmt.Errorf("netlab: NAT for node %d: the lab has %d nodes", i, cfg.n)
		}
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("netlab: %w: %s", ErrMissingTool, tool)
		}
	}
	if len(cfg.nat) > 0 {
		if _, err := exec.LookPath("iptables"); err != nil {
			return nil, fmt.Errorf("netlab: NAT needs iptables (apt-get install iptables): %w", ErrMissingTool)
		}
	}
	l := &Lab{cfg: cfg, procs: map[*Process]struct{}{}}
	if err := l.build(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Sentinel errors of New, for callers that skip rather than fail.
var (
	ErrNotRoot     = errors.New("netlab: the lab needs root")
	ErrMissingTool = errors.New("netlab: missing tool")
)

// claim picks a free /24 of 10.77.0.0/16 and creates the router namespace
// under a lock, so that concurrent labs on one machine get distinct
// subnets and prefixes.
func (l *Lab) claim(ctx context.Context) error {
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("netlab: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("netlab: lock %s: %w", lockPath, err)
	}
	used := map[int]bool{}
	for _, ns := range listNetns() {
		if m := labName.FindStringSubmatch(ns); m != nil {
			s, _ := strconv.Atoi(m[1])
			used[s] = true
		}
	}
	start := rand.IntN(254)
	for k := range 254 {
		s := (start+k)%254 + 1
		if used[s] {
			continue
		}
		l.prefix = fmt.Sprintf("nl%dp%d-", s, os.Getpid())
		l.subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 77, byte(s), 0}), 24)
		l.router = l.prefix + "r"
		return l.addNetns(ctx, l.router)
	}
	return errors.New("netlab: every subnet of 10.77.0.0/16 is in use")
}

// labName matches the namespaces of a lab: nl<subnet>p<pid>-<role>.
var labName = regexp.MustCompile(`^nl(\d+)p(\d+)-`)

func listNetns() []string {
	ents, _ := os.ReadDir(netnsDir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func (l *Lab) addNetns(ctx context.Context, ns string) error {
	if err := run(ctx, "ip", "netns", "add", ns); err != nil {
		return err
	}
	l.mu.Lock()
	l.created = append(l.created, ns)
	l.mu.Unlock()
	// The lab speaks IPv4 only; IPv6 would add router solicitations and
	// neighbour discovery to every link.
	for _, k := range []string{"net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"} {
		if err := writeSysctl(ns, k, "1"); err != nil {
			return err
		}
	}
	return run(ctx, "ip", "-n", ns, "link", "set", "lo", "up")
}

func (l *Lab) build(ctx context.Context) error {
	if err := l.claim(ctx); err != nil {
		return err
	}
	var ports []*rawPort
	for i := range l.cfg.n {
		link, ok := l.cfg.links[i]
		if !ok {
			link = l.cfg.link
		}
		l.links = append(l.links, link)
		n, err := l.addNode(ctx, i, link)
		if err != nil {
			return err
		}
		l.nodes = append(l.nodes, n)
	}
	err := inNetns(l.router, func() error {
		for i := range l.nodes {
			p, err := openRawPort(portDev(i))
			if err != nil {
				return err
			}
			ports = append(ports, p)
		}
		return nil
	})
	if err != nil {
		for _, p := range ports {
			p.file.Close()
		}
		return err
	}
	l.emu = newEmulator(l.cfg.log, ports, l.links, l.cfg.seed)
	l.cfg.log.Debug("netlab: lab up", "prefix", l.prefix, "subnet", l.subnet, "nodes", len(l.nodes))
	return nil
}

func portDev(i int) string { return fmt.Sprintf("p%d", i) }

// addNode creates node i: its namespace, its link to the router and, for
// a NAT node, the NAT namespace between them.
func (l *Lab) addNode(ctx context.Context, i int, link LinkConfig) (*Node, error) {
	n := &Node{Index: i, Netns: fmt.Sprintf("%sn%d", l.prefix, i), lab: l}
	public := l.subnet.Addr().As4()
	public[3] = byte(i + 2)
	n.Public = netip.AddrFrom4(public)
	if err := l.addNetns(ctx, n.Netns); err != nil {
		return nil, err
	}
	// up is the namespace and device on the node's side of the link.
	upNS, upDev := n.Netns, nodeDev
	if l.cfg.nat[i] {
		n.NAT = fmt.Sprintf("%sg%d", l.prefix, i)
		n.Addr = natNodeAddr
		upNS, upDev = n.NAT, wanDev
		if err := l.addNetns(ctx, n.NAT); err != nil {
			return nil, err
		}
	} else {
		n.Addr = n.Public
	}
	cmds := [][]string{
		{"ip", "-n", upNS, "link", "add", upDev, "type", "veth", "peer", "name", portDev(i), "netns", l.router},
		{"ip", "-n", upNS, "addr", "add", netip.PrefixFrom(n.Public, 24).String(), "dev", upDev},
		{"ip", "-n", upNS, "link", "set", upDev, "up"},
		{"ip", "-n", l.router, "link", "set", portDev(i), "up"},
	}
	if n.NAT != "" {
		cmds = append(cmds,
			[]string{"ip", "-n", n.Netns, "link", "add", nodeDev, "type", "veth", "peer", "name", lanDev, "netns", n.NAT},
			[]string{"ip", "-n", n.NAT, "addr", "add", natGWAddr.String() + "/24", "dev", lanDev},
			[]string{"ip", "-n", n.NAT, "link", "set", lanDev, "up"},
			[]string{"ip", "-n", n.Netns, "addr", "add", natNodeAddr.String() + "/24", "dev", nodeDev},
			[]string{"ip", "-n", n.Netns, "link", "set", nodeDev, "up"},
			[]string{"ip", "-n", n.Netns, "route", "add", "default", "via", natGWAddr.String()},
			[]string{"ip", "netns", "exec", n.NAT, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", wanDev, "-j", "MASQUERADE"},
		)
	}
	for _, c := range cmds {
		if err := run(ctx, c...); err != nil {
			return nil, err
		}
	}
	if n.NAT != "" {
		if err := writeSysctl(n.NAT, "net.ipv4.ip_forward", "1"); err != nil {
			return nil, err
		}
	}
	if err := disableOffloads(upNS, upDev); err != nil {
		return nil, err
	}
	if err := disableOffloads(l.router, portDev(i)); err != nil {
		return nil, err
	}
	if err := l.shape(ctx, i, link, true); err != nil {
		return nil, err
	}
	return n, nil
}

// shape applies the link's rate with tbf on both ends of its veth: the
// node's (or NAT's) end limits the uplink, the router's the downlink.
// An initial shaping of an unshaped link has nothing to do; a later one
// removes any tbf.
func (l *Lab) shape(ctx context.Context, i int, link LinkConfig, initial bool) error {
	upNS, upDev := l.uplink(i)
	ends := [][2]string{{upNS, upDev}, {l.router, portDev(i)}}
	for _, e := range ends {
		var argv []string
		if link.Rate == 0 {
			if initial {
				continue
			}
			argv = []string{"tc", "-n", e[0], "qdisc", "del", "dev", e[1], "root"}
		} else {
			link = link.withDefaults()
			// The bucket holds 4 ms of traffic (at least a few full-size
			// frames): enough for any timer tick, small enough to shape.
			burst := max(16<<10, link.Rate/8/250)
			argv = []string{"tc", "-n", e[0], "qdisc", "replace", "dev", e[1], "root", "tbf",
				"rate", strconv.FormatInt(link.Rate, 10) + "bit",
				"burst", strconv.FormatInt(burst, 10),
				"latency", strconv.FormatInt(link.ShaperQueue.Microseconds(), 10) + "us"}
		}
		if err := run(ctx, argv...); err != nil && link.Rate != 0 {
			return err
		}
	}
	return nil
}

func (l *Lab) uplink(i int) (ns, dev string) {
	if l.cfg.nat[i] {
		return fmt.Sprintf("%sg%d", l.prefix, i), wanDev
	}
	return fmt.Sprintf("%sn%d", l.prefix, i), nodeDev
}

// Nodes returns the lab's nodes.
func (l *Lab) Nodes() []*Node { return l.nodes }

// Node returns node i.
func (l *Lab) Node(i int) *Node { return l.nodes[i] }

// Prefix is the prefix of every namespace name of this lab.
func (l *Lab) Prefix() string { return l.prefix }

// Subnet is the lab's network; node i is at .i+2 (or its NAT is).
func (l *Lab) Subnet() netip.Prefix { return l.subnet }

// Router is the name of the router namespace, where the emulator's ports
// are.
func (l *Lab) Router() string { return l.router }

// SetLink reshapes node n's link while the lab runs. Delay, jitter and
// loss apply to frames entering a delay line from now on.
func (l *Lab) SetLink(ctx context.Context, n *Node, link LinkConfig) error {
	if err := link.validate(); err != nil {
		return err
	}
	if err := l.shape(ctx, n.Index, link, false); err != nil {
		return err
	}
	l.emu.update(func(c *core) { c.ports[n.Index].cfg = link.withDefaults() })
	l.mu.Lock()
	l.links[n.Index] = link
	l.mu.Unlock()
	return nil
}

// Cut takes the nodes' links down: every frame from or to them is dropped
// until Heal. Frames already past the switch are still delivered.
func (l *Lab) Cut(nodes ...*Node) { l.setCut(true, nodes) }

// Heal brings cut links back.
func (l *Lab) Heal(nodes ...*Node) { l.setCut(false, nodes) }

func (l *Lab) setCut(cut bool, nodes []*Node) {
	l.emu.update(func(c *core) {
		for _, n := range nodes {
			c.ports[n.Index].cut = cut
		}
	})
}

// Partition drops every frame between a node of a and a node of b, both
// ways, until HealPartitions; each side still reaches the rest.
func (l *Lab) Partition(a, b []*Node) {
	l.emu.update(func(c *core) {
		for _, x := range a {
			for _, y := range b {
				if x.Index != y.Index {
					c.blocked[pairKey(x.Index, y.Index)] = true
				}
			}
		}
	})
}

// HealPartitions removes every partition.
func (l *Lab) HealPartitions() { l.emu.update(func(c *core) { clear(c.blocked) }) }

// Stats returns the emulator's counters of node n's link.
func (l *Lab) Stats(n *Node) LinkStats {
	drops := l.emu.ports[n.Index].kernelDrops()
	var s LinkStats
	l.emu.update(func(c *core) {
		c.ports[n.Index].stats.KernelDrops += drops
		s = c.ports[n.Index].stats
	})
	return s
}

// EmulatorStats describes the emulator's own timing error.
type EmulatorStats struct {
	// Frames is the number of frames delivered.
	Frames uint64
	// MeanLate and MaxLate are how long after their due time frames were
	// handed to the kernel: the error the emulator adds to each delay line
	// a frame leaves (once per node-to-node path).
	MeanLate, MaxLate time.Duration
}

// EmulatorStats returns the emulator's timing figures so far.
func (l *Lab) EmulatorStats() EmulatorStats {
	l.emu.mu.Lock()
	defer l.emu.mu.Unlock()
	s := EmulatorStats{Frames: l.emu.late.n, MaxLate: l.emu.late.max}
	if s.Frames > 0 {
		s.MeanLate = l.emu.late.sum / time.Duration(s.Frames)
	}
	return s
}

// Close kills the lab's processes, stops the emulator and deletes every
// namespace the lab created (which deletes their links). It is safe to
// call more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs := make([]*Process, 0, len(l.procs))
	for p := range l.procs {
		procs = append(procs, p)
	}
	created := l.created
	l.mu.Unlock()
	for _, p := range procs {
		p.Stop(2 * time.Second)
	}
	if l.emu != nil {
		l.emu.Close()
	}
	var errs []error
	for i := len(created) - 1; i >= 0; i-- {
		if err := deleteNetns(created[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deleteNetns kills whatever still runs in ns and deletes it; one that is
// already gone (removed by CleanPrefix) is no error.
func deleteNetns(ns string) error {
	if _, err := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	return run(ctx, "ip", "netns", "del", ns)
}

// CleanStale deletes the namespaces of labs whose process is gone (a test
// binary that was killed before Close): it returns their names.
func CleanStale() ([]string, error) {
	return clean(func(ns string) bool {
		m := labName.FindStringSubmatch(ns)
		if m == nil {
			return false
		}
		pid, _ := strconv.Atoi(m[2])
		return pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH
	})
}

// CleanPrefix deletes every lab namespace whose name starts with prefix
// (a Lab.Prefix, or "nl" for every lab on the machine, live or not),
// killing what runs in them: it returns their names.
func CleanPrefix(prefix string) ([]string, error) {
	if prefix == "" {
		return nil, errors.New("netlab: clean: empty prefix")
	}
	return clean(func(ns string) bool { return strings.HasPrefix(ns, prefix) && labName.MatchString(ns) })
}

func clean(match func(ns string) bool) ([]string, error) {
	var gone []string
	var errs []error
	for _, ns := range listNetns() {
		if !match(ns) {
			continue
		}
		if err := deleteNetns(ns); err != nil {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, ns)
	}
	return gone, errors.Join(errs...)
}
