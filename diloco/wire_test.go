package diloco

import (
	"bytes"
	"errors"
	"testing"
)

func TestHelloRoundTrip(t *testing.T) {
	h := hello{mode: Int8, lane: 1, lanes: 2, rank: 3, n: 8, round: roundID("x"), elems: 1 << 30, chunkElems: 1 << 18}
	got, err := readHello(bytes.NewReader(h.marshal()))
	if err != nil || got != h {
		t.Fatalf("got %+v, %v", got, err)
	}
	bad := h
	bad.rank = 8
	if _, err := parseHello(bad.marshal()); !errors.Is(err, ErrProtocol) {
		t.Fatalf("rank >= n accepted: %v", err)
	}
}

func FuzzParseHello(f *testing.F) {
	f.Add(hello{mode: Float32, lanes: 1, n: 2, chunkElems: 1}.marshal())
	f.Add(make([]byte, helloSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != helloSize {
			return
		}
		h, err := parseHello(b)
		if err != nil {
			return
		}
		if h.lane >= h.lanes || h.rank >= h.n || h.n < 2 || h.chunkElems == 0 {
			t.Fatalf("accepted invalid hello %+v", h)
		}
		if !bytes.Equal(h.marshal(), b) {
			t.Fatalf("hello does not round-trip")
		}
	})
}

func FuzzDecodeRoundMsg(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"ready","step":3,"attempt":0,"spec":"ab"}`))
	f.Add([]byte(`{"v":1,"type":"confirm","step":3,"group":["nope"]}`))
	f.Add([]byte(`{"v":1,"type":"abort","blame":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeRoundMsg(b)
		if err != nil {
			return
		}
		if m.V != 1 || len(m.Group) > maxGroupSize || m.Attempt < 0 {
			t.Fatalf("accepted %+v", m)
		}
	})
}

func TestInt8ChunkHeaderRejectsGarbage(t *testing.T) {
	for _, h := range [][]byte{
		{0, 0, 0xc0, 0x7f, 0, 0, 0, 0}, // NaN scale
		{0, 0, 0x80, 0x7f, 0, 0, 0, 0}, // +Inf
		{0, 0, 0x80, 0xbf, 0, 0, 0, 0}, // -1
		{0, 0, 0x80, 0x3f, 1, 0, 0, 0}, // reserved bytes set
	} {
		if _, ok := int8Scale(h); ok {
			t.Errorf("accepted chunk header %x", h)
		}
	}
}
