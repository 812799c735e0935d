package p2p

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// Security is the stack's choice of secure channels: libp2p TLS 1.3 first
// (AES-GCM, hardware accelerated on most CPUs) with batched writes, then
// Noise. Every host in this module, and the test swarms, use it, so
// benchmarks measure the transport nodes really run.
func Security() libp2p.Option {
	return libp2p.ChainOptions(
		libp2p.Security(libp2ptls.ID, NewBatchedTLS),
		libp2p.Security(noise.ID, noise.New),
	)
}

// maxTLSBatch bounds the bytes one batched Write gathers before it writes
// them out: yamux frames are at most 64 KiB, so one batch is normally one
// frame.
const maxTLSBatch = 256 << 10

// minTLSBatch is the smallest Write worth batching: below it crypto/tls
// writes one record anyway, and copying it would only cost.
const minTLSBatch = 2 << 10

// BatchedTLS is libp2p's TLS 1.3 security transport (/tls/1.0.0, the same
// handshake and records on the wire) with one change: crypto/tls writes
// every record of at most 16 KiB with its own write system call, so a 64
// KiB yamux frame costs four; here the records of one Write are gathered
// and written with one call. On a CPU-bound link (loopback, a fast LAN)
// that is 25-45% more throughput for the same CPU.
type BatchedTLS struct {
	*libp2ptls.Transport
}

var _ sec.SecureTransport = (*BatchedTLS)(nil)

// NewBatchedTLS is the constructor libp2p.Security calls.
func NewBatchedTLS(id protocol.ID, key crypto.PrivKey, muxers []tptu.StreamMuxer) (*BatchedTLS, error) {
	t, err := libp2ptls.New(id, key, muxers)
	if err != nil {
		return nil, fmt.Errorf("p2p: tls transport: %w", err)
	}
	return &BatchedTLS{Transport: t}, nil
}

// SecureInbound runs the TLS handshake as the server.
func (t *BatchedTLS) SecureInbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	bc := &batchConn{Conn: insecure}
	sc, err := t.Transport.SecureInbound(ctx, bc, p)
	if err != nil {
		return nil, err
	}
	return &batchedSecureConn{SecureConn: sc, raw: bc}, nil
}

// SecureOutbound runs the TLS handshake as the client.
func (t *BatchedTLS) SecureOutbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	bc := &batchConn{Conn: insecure}
	sc, err := t.Transport.SecureOutbound(ctx, bc, p)
	if err != nil {
		return nil, err
	}
	return &batchedSecureConn{SecureConn: sc, raw: bc}, nil
}

// batchedSecureConn turns batching on around each large Write.
type batchedSecureConn struct {
	sec.SecureConn
	raw *batchConn
	wmu sync.Mutex // one batched Write at a time
}

func (c *batchedSecureConn) Write(b []byte) (int, error) {
	if len(b) < minTLSBatch {
		return c.SecureConn.Write(b)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.raw.begin()
	n, err := c.SecureConn.Write(b)
	if ferr := c.raw.end(); ferr != nil {
		// The records are sealed but not sent: the stream is broken.
		return 0, ferr
	}
	return n, err
}

// batchConn is the TCP side under crypto/tls. Between begin and end it
// gathers what TLS writes (the records of one Write, and any record TLS
// sends on its own meanwhile, such as an alert, in sequence order) and end
// writes them with one call. A write error is kept: TLS has already counted
// those records as sent, so nothing may follow them.
//
// Close is the socket's own and takes no lock: crypto/tls closes the
// socket to break a Write that is blocked on it, which holds mu. A record
// gathered when Close comes (at most TLS's close_notify alert, which TLS
// may send between a batch's last record and end) is dropped; libp2p does
// not depend on it.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	buf      []byte
	err      error
}

func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

func (c *batchConn) end() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	return c.flushLocked()
}

func (c *batchConn) flushLocked() error {
	if c.err != nil {
		c.buf = nil
		return c.err
	}
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxTLSBatch+maxTLSBatch/8 {
		c.buf = nil // an oversized batch does not stay allocated
	} else {
		c.buf = c.buf[:0]
	}
	if err != nil {
		c.err = err
		c.buf = nil
	}
	return err
}

func (c *batchConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.batching {
		n, err := c.Conn.Write(b)
		if err != nil {
			c.err = err
		}
		return n, err
	}
	if len(c.buf) > 0 && len(c.buf)+len(b) > maxTLSBatch {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	c.buf = append(c.buf, b...)
	return len(b), nil
}
