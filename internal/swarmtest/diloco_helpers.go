package swarmtest

import (
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
)

// WaitTopicPeers waits until every topic sees at least want other peers
// subscribed, failing the test after timeout.
func WaitTopicPeers(t testing.TB, topics []*pubsub.Topic, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for i, tp := range topics {
		for len(tp.ListPeers()) < want {
			if time.Now().After(deadline) {
				t.Fatalf("swarmtest: topic %d sees %d peers, want %d after %v", i, len(tp.ListPeers()), want, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
