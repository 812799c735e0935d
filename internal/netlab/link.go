package netlab

import (
	"fmt"
	"time"
)

// Defaults for a LinkConfig's zero fields. DefaultQueueFrames holds 150 ms
// of a 160 Mbit/s stream of full-size frames per direction (2 KiB buffers:
// 8 MiB); DefaultShaperQueue is the time tbf may queue before it drops.
const (
	DefaultQueueFrames = 4096
	DefaultShaperQueue = 50 * time.Millisecond
	// MaxDelay bounds Delay+Jitter: beyond it a lab is misconfigured.
	MaxDelay = 10 * time.Second
)

// LinkConfig shapes the link between one node (or its NAT) and the router.
// Delay, Jitter and Loss are applied by the userspace WAN emulator to every
// frame in each direction of this link, so a frame from node a to node b
// waits Delay(a) on a's uplink and Delay(b) on b's downlink: one-way
// latency a→b is Delay(a)+Delay(b) and the round trip is twice that. Rate
// is enforced by tc tbf on both ends of the link's veth pair.
type LinkConfig struct {
	// Delay is the one-way latency between the node and the router, added
	// in each direction.
	Delay time.Duration
	// Jitter spreads each frame's delay uniformly over
	// [Delay-Jitter, Delay+Jitter] (never below zero). Frames of one
	// direction of one link keep their order, so when frames are closer
	// together than the spread the mean delay rises a little.
	Jitter time.Duration
	// Loss is the probability that a frame is dropped, independently in
	// each direction (Bernoulli).
	Loss float64
	// Rate is the bandwidth in bits per second in each direction (tc tbf);
	// 0 leaves the link unshaped.
	Rate int64
	// ShaperQueue is tbf's latency bound; 0 means DefaultShaperQueue.
	ShaperQueue time.Duration
	// QueueFrames bounds the frames the emulator holds per direction;
	// beyond it frames are dropped at the tail. 0 means DefaultQueueFrames.
	QueueFrames int
}

func (c LinkConfig) validate() error {
	switch {
	case c.Delay < 0 || c.Jitter < 0 || c.Delay+c.Jitter > MaxDelay:
		return fmt.Errorf("netlab: link delay %v jitter %v: want 0 <= delay+jitter <= %v", c.Delay, c.Jitter, MaxDelay)
	case !(c.Loss >= 0 && c.Loss <= 1):
		return fmt.Errorf("netlab: link loss %v: want a probability in [0,1]", c.Loss)
	case c.Rate < 0:
		return fmt.Errorf("netlab: link rate %d: want >= 0 bit/s", c.Rate)
	case c.Rate > 0 && c.Rate < 8000:
		return fmt.Errorf("netlab: link rate %d bit/s: want at least 8000 (tbf cannot go lower usefully)", c.Rate)
	case c.ShaperQueue < 0 || c.QueueFrames < 0:
		return fmt.Errorf("netlab: link queue bounds must not be negative")
	}
	return nil
}

func (c LinkConfig) withDefaults() LinkConfig {
	if c.ShaperQueue == 0 {
		c.ShaperQueue = DefaultShaperQueue
	}
	if c.QueueFrames == 0 {
		c.QueueFrames = DefaultQueueFrames
	}
	return c
}

// LinkStats counts what the emulator did with one link's frames.
type LinkStats struct {
	// RxFrames and RxBytes came from the node into the emulator.
	RxFrames, RxBytes uint64
	// TxFrames and TxBytes were handed to the kernel toward the node.
	TxFrames, TxBytes uint64
	// Lost counts random (Loss) drops in both directions.
	Lost uint64
	// QueueDrops counts frames dropped because a queue of this link was
	// full; SendErrors those the kernel refused (tbf full, socket buffer).
	QueueDrops, SendErrors uint64
	// CutDrops counts frames dropped by a cut link or a partition.
	CutDrops uint64
	// Oversize counts frames longer than the emulator's buffers.
	Oversize uint64
	// KernelDrops counts frames the kernel dropped before the emulator read
	// them (its socket buffer was full: the emulator fell behind).
	KernelDrops uint64
}
