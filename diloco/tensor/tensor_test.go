package tensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func sample(t *testing.T) *Set {
	t.Helper()
	s, err := NewSet(
		Tensor{Name: "w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, -6}},
		Tensor{Name: "b", Shape: []int{3}, Data: []float32{0.5, float32(math.Inf(1)), -0}},
		Tensor{Name: "scalar", Shape: []int{}, Data: []float32{7}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSafetensorsRoundTrip(t *testing.T) {
	s := sample(t)
	var buf bytes.Buffer
	if err := Write(&buf, s, map[string]string{"step": "3"}); err != nil {
		t.Fatal(err)
	}
	if hl := binary.LittleEndian.Uint64(buf.Bytes()); (8+hl)%8 != 0 {
		t.Errorf("data not 8-byte aligned: header %d", hl)
	}
	got, meta, err := Read(bytes.NewReader(buf.Bytes()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if meta["step"] != "3" {
		t.Errorf("metadata = %v", meta)
	}
	if !got.SameLayout(s) || got.LayoutHash() != s.LayoutHash() {
		t.Fatalf("layout changed")
	}
	a, b := s.Flatten(nil), got.Flatten(nil)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("value %d: %v != %v", i, a[i], b[i])
		}
	}
	if names := []string{got.Tensors()[0].Name, got.Tensors()[1].Name}; names[0] != "b" || names[1] != "scalar" {
		t.Errorf("not sorted: %v", names)
	}
}

// handmade builds a safetensors file from a raw header, as PyTorch would.
func handmade(hdr string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
	b.WriteString(hdr)
	b.Write(data)
	return b.Bytes()
}

func TestReadHalfPrecision(t *testing.T) {
	// BF16 1.5 = 0x3fc0; F16 -2.0 = 0xc000, F16 65504 = 0x7bff.
	data := []byte{0xc0, 0x3f, 0x00, 0xc0, 0xff, 0x7b}
	f := handmade(`{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}}`, data)
	s, _, err := Read(bytes.NewReader(f), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Flatten(nil); got[0] != 1.5 || got[1] != -2 || got[2] != 65504 {
		t.Fatalf("got %v", got)
	}
}

func TestReadRejects(t *testing.T) {
	cases := map[string][]byte{
		"short":        {1, 2},
		"huge header":  handmade(`{}`, nil)[:0],
		"bad json":     handmade(`{"a":`, nil),
		"dtype":        handmade(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)),
		"size":         handmade(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)),
		"gap":          handmade(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"overlap":      handmade(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)),
		"truncated":    handmade(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)),
		"negative dim": handmade(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil),
		"bad metadata": handmade(`{"__metadata__":{"a":1}}`, nil),
	}
	var big bytes.Buffer
	binary.Write(&big, binary.LittleEndian, uint64(1<<40))
	cases["huge header"] = big.Bytes()
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := Read(bytes.NewReader(f), Limits{})
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
		})
	}
	f := handmade(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 16))
	if _, _, err := Read(bytes.NewReader(f), Limits{MaxData: 8}); !errors.Is(err, ErrFormat) {
		t.Fatalf("MaxData not enforced: %v", err)
	}
}

func TestNewSetRejects(t *testing.T) {
	if _, err := NewSet(Tensor{Name: "a", Shape: []int{2}, Data: []float32{1}}); !errors.Is(err, ErrShape) {
		t.Errorf("short data: %v", err)
	}
	if _, err := NewSet(Tensor{Name: "a", Data: []float32{1}}, Tensor{Name: "a", Data: []float32{1}}); err == nil {
		t.Errorf("duplicate accepted")
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	s, _ := NewSet(Tensor{Name: "w", Shape: []int{2}, Data: []float32{1, 2}})
	_ = Write(&buf, s, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add(handmade(`{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 0}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, meta, err := Read(bytes.NewReader(b), Limits{MaxHeader: 1 << 16, MaxData: 1 << 20})
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, s, meta); err != nil {
			t.Fatal(err)
		}
		s2, _, err := Read(&out, Limits{})
		if err != nil || !s2.SameLayout(s) {
			t.Fatalf("re-read: %v", err)
		}
	})
}
