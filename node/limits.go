package node

import "fmt"

// Limits bounds what a long-running node (a bootstrap node above all) holds
// open. Zero fields keep the defaults of the p2p layer: connection manager
// watermarks 100/400, or 400/2000 for bootstrap nodes, and the libp2p
// resource manager's limits scaled to the machine's memory and to the
// process's open-file limit (RLIMIT_NOFILE), which the operator sets (for
// example LimitNOFILE= in a systemd unit).
type Limits struct {
	// ConnLow and ConnHigh are the connection manager's watermarks: above
	// ConnHigh connections it trims the least useful ones down to ConnLow
	// (connections younger than a minute are kept).
	ConnLow, ConnHigh int
	// MaxConns, when positive, is the resource manager's system-wide limit
	// on connections, total and inbound (see p2p.Config.MaxConns); it must
	// be at least ConnHigh so that the connection manager, not the
	// resource manager, decides whom to keep.
	MaxConns int
}

// Validate reports limits that cannot work.
func (l Limits) Validate() error {
	if l.ConnLow < 0 || l.ConnHigh < 0 {
		return fmt.Errorf("node: connection watermarks must not be negative (low %d, high %d)", l.ConnLow, l.ConnHigh)
	}
	if (l.ConnLow == 0) != (l.ConnHigh == 0) {
		return fmt.Errorf("node: set both connection watermarks or neither (low %d, high %d)", l.ConnLow, l.ConnHigh)
	}
	if l.MaxConns < 0 || (l.MaxConns > 0 && l.MaxConns < l.ConnHigh) {
		return fmt.Errorf("node: connection limit %d must be at least the high watermark %d", l.MaxConns, l.ConnHigh)
	}
	if l.ConnHigh != 0 && l.ConnHigh <= l.ConnLow {
		return fmt.Errorf("node: connection high watermark %d must be above the low watermark %d", l.ConnHigh, l.ConnLow)
	}
	return nil
}

// WithLimits sets the node's resource limits (see Limits).
func WithLimits(l Limits) Option {
	return func(c *config) error {
		if err := l.Validate(); err != nil {
			return err
		}
		c.limits = l
		return nil
	}
}
