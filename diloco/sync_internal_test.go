package diloco

import (
	"log/slog"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestChooseHead(t *testing.T) {
	h := func(step, applied uint64, b byte) Head { return Head{Step: step, Applied: applied, Hash: [32]byte{b}} }
	ans := func(hs ...Head) []peerHead {
		var out []peerHead
		for i, x := range hs {
			out = append(out, peerHead{peer.ID(rune('a' + i)), x})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		own     Head
		answers []peerHead
		maxStep uint64
		want    Head
		change  bool
	}{
		{"late joiner adopts the pool", h(0, 0, 1), ans(h(8, 8, 2), h(8, 8, 2)), 0, h(8, 8, 2), true},
		{"missed round: applied beats skipped", h(5, 4, 1), ans(h(5, 5, 2)), 0, h(5, 5, 2), true},
		{"peers still in the round are not followed back", h(5, 5, 1), ans(h(4, 4, 2), h(4, 4, 2), h(4, 4, 2)), 0, h(5, 5, 1), false},
		{"a skipped step ahead loses to the same progress held by more", h(5, 4, 1), ans(h(6, 4, 2)), 0, h(6, 4, 2), true},
		{"partition halves: more holders win", h(9, 9, 1), ans(h(9, 9, 2), h(9, 9, 2)), 0, h(9, 9, 2), true},
		{"partition halves: tie goes to the smaller hash", h(9, 9, 3), ans(h(9, 9, 2), h(9, 9, 3), h(9, 9, 2)), 0, h(9, 9, 2), true},
		{"the smaller hash keeps its state on a tie", h(9, 9, 2), ans(h(9, 9, 3)), 0, h(9, 9, 2), false},
		{"nothing beyond the step limit", h(3, 3, 1), ans(h(12, 12, 2)), 10, h(3, 3, 1), false},
		{"nobody answered", h(3, 3, 1), nil, 0, h(3, 3, 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, holders, ok := choose(tc.own, tc.answers, tc.maxStep)
			if got != tc.want || ok != tc.change {
				t.Fatalf("choose = %v, %v; want %v, %v", got, ok, tc.want, tc.change)
			}
			if ok {
				for _, p := range holders {
					found := false
					for _, a := range tc.answers {
						found = found || (a.peer == p && a.head == got)
					}
					if !found {
						t.Fatalf("holder %s does not hold %v", p, got)
					}
				}
				if len(holders) == 0 {
					t.Fatal("no holder for the chosen head")
				}
			}
		})
	}
}

// TestBlameOnlyLeftNeighbour: an abort that blames a peer excludes it only
// when the accuser receives from it (its left neighbour in the group the
// accuser confirmed); a peer cannot get arbitrary others excluded.
func TestBlameOnlyLeftNeighbour(t *testing.T) {
	r := &Rounds{log: slog.New(slog.DiscardHandler), attempts: map[attemptKey]*attemptState{}, excluded: map[peer.ID]uint64{},
		changed: make(chan struct{}), cfg: roundsConfig{excludeSteps: 10}}
	ids := make([]peer.ID, 4)
	for i := range ids {
		_, pub, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i], _ = peer.IDFromPublicKey(pub)
	}
	a, b, c, d := ids[0], ids[1], ids[2], ids[3]
	group := []string{a.String(), b.String(), c.String()}
	r.record(a, roundMsg{Type: "confirm", Step: 1, Group: group})
	r.record(a, roundMsg{Type: "abort", Step: 1, Blame: b.String()}) // a receives from c, not b
	r.record(d, roundMsg{Type: "abort", Step: 1, Blame: c.String()}) // d confirmed no group
	if r.isExcluded(b, 1) || r.isExcluded(c, 1) {
		t.Fatalf("a blame of a non-neighbour excluded someone: %v", r.excluded)
	}
	r.record(a, roundMsg{Type: "abort", Step: 1, Blame: c.String()})
	if !r.isExcluded(c, 1) || !r.isExcluded(c, 11) || r.isExcluded(c, 12) {
		t.Fatalf("a's left neighbour c is not excluded for steps 1..11: %v", r.excluded)
	}
}

// FuzzParseHead: any head response either decodes to a head naming our
// model with applied <= step, or is an error; never a panic.
func FuzzParseHead(f *testing.F) {
	layout := [32]byte{7}
	s := &StateSync{bound: true, layout: layout, weights: make([]float32, 3), head: Head{Step: 5, Applied: 4, Hash: [32]byte{9}}}
	f.Add(s.headBytes())
	f.Add([]byte{stateAbsent})
	f.Add(make([]byte, headLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHead(b, layout, 3)
		if err == nil && (h.Applied > h.Step || len(b) != headLen) {
			t.Fatalf("accepted %x as %v", b, h)
		}
	})
}
