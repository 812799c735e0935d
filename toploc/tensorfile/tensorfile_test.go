package tensorfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func bf16Tensor(name string, shape []int, vals []uint16) Tensor {
	data := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(data[2*i:], v)
	}
	return Tensor{Name: name, DType: BF16, Shape: shape, Data: data}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	a := bf16Tensor("hidden_states", []int{2, 3}, []uint16{0x3f80, 0xbf80, 0x4000, 0, 0x7f80, 0x8001})
	f32 := Tensor{Name: "f", DType: F32, Shape: []int{2}, Data: binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, math.Float32bits(1.5)), math.Float32bits(-2))}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, []Tensor{a, f32}, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(buf.Bytes())
	got, err := ReadSafetensors(r, int64(buf.Len()), "hidden_states")
	if err != nil {
		t.Fatal(err)
	}
	if got.DType != BF16 || !slices.Equal(got.Shape, a.Shape) || !bytes.Equal(got.Data, a.Data) {
		t.Fatalf("read %+v, wrote %+v", got, a)
	}
	bits, _ := got.Uint16s()
	if bits[0] != 0x3f80 || bits[5] != 0x8001 {
		t.Fatalf("bits %x", bits)
	}
	g2, err := ReadSafetensors(r, int64(buf.Len()), "f")
	if err != nil {
		t.Fatal(err)
	}
	b2, err := g2.BF16Bits()
	if err != nil || !slices.Equal(b2, []uint16{0x3fc0, 0xc000}) {
		t.Fatalf("fp32 to bf16: %x %v", b2, err)
	}
	if _, err := ReadSafetensors(r, int64(buf.Len()), ""); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("two tensors, no name: %v", err)
	}
	if _, err := ReadSafetensors(r, int64(buf.Len()), "nope"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("missing tensor: %v", err)
	}
	hdr, err := SafetensorsHeader(r, int64(buf.Len()))
	if err != nil || len(hdr) != 2 || hdr[0].Name != "f" {
		t.Fatalf("header %+v %v", hdr, err)
	}
	// Every truncation is an error, never a panic.
	for n := range buf.Len() {
		if _, err := ReadSafetensors(bytes.NewReader(buf.Bytes()[:n]), int64(n), "f"); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
}

func TestSafetensorsRejectsLies(t *testing.T) {
	mk := func(header string, data int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), make([]byte, data)...)
	}
	for name, file := range map[string][]byte{
		"huge header":     binary.LittleEndian.AppendUint64(nil, 1<<40),
		"offsets past":    mk(`{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}`, 4),
		"shape vs bytes":  mk(`{"a":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}`, 8),
		"negative dim":    mk(`{"a":{"dtype":"BF16","shape":[-4],"data_offsets":[0,8]}}`, 8),
		"overflowing dim": mk(`{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}`, 8),
		"not json":        mk(`{"a":`, 8),
		"unknown field":   mk(`{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8],"x":1}}`, 8),
	} {
		if _, err := ReadSafetensors(bytes.NewReader(file), int64(len(file)), "a"); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func TestNPYRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []Tensor{
		bf16Tensor("", []int{2, 2}, []uint16{1, 2, 3, 4}),
		{DType: F16, Shape: []int{3}, Data: []byte{0, 0x3c, 0, 0xbc, 0xff, 0x7b}},
		{DType: F32, Shape: []int{1, 1}, Data: binary.LittleEndian.AppendUint32(nil, math.Float32bits(3))},
	} {
		var buf bytes.Buffer
		if err := WriteNPY(&buf, tt); err != nil {
			t.Fatal(err)
		}
		if (buf.Len()-len(tt.Data))%64 != 0 {
			t.Errorf("%s: header not aligned to 64 bytes", tt.DType)
		}
		path := filepath.Join(dir, string(tt.DType)+".npy")
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path, "")
		if err != nil {
			t.Fatal(err)
		}
		if got.DType != tt.DType || !slices.Equal(got.Shape, tt.Shape) || !bytes.Equal(got.Data, tt.Data) {
			t.Fatalf("read %+v, wrote %+v", got, tt)
		}
		for n := range buf.Len() {
			if _, err := ReadNPY(bytes.NewReader(buf.Bytes()[:n]), int64(n)); err == nil {
				t.Fatalf("%s truncated to %d: no error", tt.DType, n)
			}
		}
	}
}

func TestNPYHeaders(t *testing.T) {
	for h, ok := range map[string]bool{
		"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }": true,
		"{'descr': '<u2', 'fortran_order': False, 'shape': (7,)}":     true,
		`{"descr": "<f2", "fortran_order": False, "shape": ()}`:       true,
		"{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }":   false,
		"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }":   false,
		"{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }":  false,
		"{'descr': '<f4', 'shape': (3, 4), }":                         false,
		"{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4)}":  false,
		"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4}":    false,
		"[]": false,
	} {
		b := []byte(npyMagic + "\x01\x00")
		b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
		b = append(b, h...)
		b = append(b, make([]byte, 48)...)
		_, err := ReadNPY(bytes.NewReader(b), int64(len(b)))
		if (err == nil) != ok {
			t.Errorf("%s: err %v, want ok=%v", h, err, ok)
		}
	}
}

func TestF32ToBF16(t *testing.T) {
	for f, want := range map[float32]uint16{
		1:                             0x3f80,
		-2:                            0xc000,
		1 + 1.0/256:                   0x3f80, // tie, even stays
		1 + 3.0/256:                   0x3f82, // tie, odd rounds up
		1 + 1.0/256 + 1.0/65536:       0x3f81,
		float32(math.Inf(1)):          0x7f80,
		math.MaxFloat32:               0x7f80,
		float32(math.NaN()):           0x7fc0,
		float32(math.Copysign(0, -1)): 0x8000,
	} {
		if got := F32ToBF16(math.Float32bits(f)); got != want {
			t.Errorf("F32ToBF16(%v) = %#x, want %#x", f, got, want)
		}
	}
	for b := range 1 << 16 {
		if b&0x7fff > 0x7f80 {
			continue
		}
		if got := F32ToBF16(math.Float32bits(BF16ToF32(uint16(b)))); got != uint16(b) {
			t.Fatalf("bf16 %#x does not round-trip: %#x", b, got)
		}
	}
}

func TestF16(t *testing.T) {
	for h := range 1 << 16 {
		if h&0x7fff > 0x7c00 {
			continue
		}
		if got := F32ToF16(F16ToF32(uint16(h))); got != uint16(h) {
			t.Fatalf("fp16 %#x does not round-trip: %#x (%v)", h, got, F16ToF32(uint16(h)))
		}
	}
	for f, want := range map[float32]uint16{
		1: 0x3c00, 65504: 0x7bff, 65520: 0x7c00, 1 + 1.0/2048: 0x3c00, 1 + 3.0/2048: 0x3c02,
		float32(math.Ldexp(1, -24)): 1, float32(math.Ldexp(1, -25)): 0, float32(math.Ldexp(1.5, -25)): 1, -1e-9: 0x8000,
	} {
		if got := F32ToF16(f); got != want {
			t.Errorf("F32ToF16(%v) = %#x, want %#x", f, got, want)
		}
	}
}

func FuzzReadSafetensors(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteSafetensors(&buf, []Tensor{bf16Tensor("x", []int{2}, []uint16{1, 2})}, nil)
	f.Add(buf.Bytes())
	f.Add([]byte(`12345678{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tt, err := ReadSafetensors(bytes.NewReader(b), int64(len(b)), "x")
		if err == nil && len(tt.Data) > len(b) {
			t.Fatalf("read %d data bytes from a %d-byte file", len(tt.Data), len(b))
		}
		_, _ = SafetensorsHeader(bytes.NewReader(b), int64(len(b)))
	})
}

func FuzzReadNPY(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteNPY(&buf, bf16Tensor("", []int{2}, []uint16{1, 2}))
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		tt, err := ReadNPY(bytes.NewReader(b), int64(len(b)))
		if err == nil && len(tt.Data) > len(b) {
			t.Fatalf("read %d data bytes from a %d-byte file", len(tt.Data), len(b))
		}
	})
}
