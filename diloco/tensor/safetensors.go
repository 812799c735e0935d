package tensor

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"unsafe"
)

// DefaultMaxHeader limits the JSON header of a safetensors file we read. The
// format itself allows 100 MB; a model with a million tensors fits in 16 MiB.
const DefaultMaxHeader = 16 << 20

// ErrFormat reports malformed safetensors input.
var ErrFormat = errors.New("tensor: malformed safetensors")

type headerEntry struct {
	Dtype       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Limits bounds what Read accepts.
type Limits struct {
	MaxHeader int64 // bytes of JSON header; 0 means DefaultMaxHeader
	MaxData   int64 // bytes of tensor data; 0 means unlimited
}

// Write encodes the set as safetensors (dtype F32, little-endian) with the
// given string metadata (may be nil).
func Write(w io.Writer, s *Set, metadata map[string]string) error {
	hdr := make(map[string]any, len(s.ts)+1)
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, t := range s.ts {
		n := int64(len(t.Data)) * 4
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[t.Name] = headerEntry{Dtype: "F32", Shape: shape, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("tensor: encode header: %w", err)
	}
	// Pad with spaces so the data starts 8-byte aligned (the format allows it).
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(js)))
	if _, err := bw.Write(lb[:]); err != nil {
		return fmt.Errorf("tensor: write: %w", err)
	}
	if _, err := bw.Write(js); err != nil {
		return fmt.Errorf("tensor: write: %w", err)
	}
	for _, t := range s.ts {
		if err := writeF32(bw, t.Data); err != nil {
			return fmt.Errorf("tensor: write %q: %w", t.Name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("tensor: write: %w", err)
	}
	return nil
}

func writeF32(w io.Writer, data []float32) error {
	if len(data) == 0 {
		return nil
	}
	if nativeLittle {
		_, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), len(data)*4))
		return err
	}
	buf := make([]byte, 4*min(len(data), 1<<16))
	for len(data) > 0 {
		n := min(len(data), len(buf)/4)
		for i := range n {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(data[i]))
		}
		if _, err := w.Write(buf[:4*n]); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

var nativeLittle = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Read decodes a safetensors stream into a set, converting F16 and BF16 to
// float32, and returns its metadata. Anything malformed or over the limits
// is an error wrapping ErrFormat; nothing is allocated beyond the limits.
func Read(r io.Reader, lim Limits) (*Set, map[string]string, error) {
	maxHdr := lim.MaxHeader
	if maxHdr <= 0 {
		maxHdr = DefaultMaxHeader
	}
	var lb [8]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: header length: %v", ErrFormat, err)
	}
	hl := binary.LittleEndian.Uint64(lb[:])
	if hl < 2 || hl > uint64(maxHdr) {
		return nil, nil, fmt.Errorf("%w: header length %d outside [2, %d]", ErrFormat, hl, maxHdr)
	}
	js := make([]byte, hl)
	if _, err := io.ReadFull(r, js); err != nil {
		return nil, nil, fmt.Errorf("%w: header: %v", ErrFormat, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, nil, fmt.Errorf("%w: header json: %v", ErrFormat, err)
	}
	var meta map[string]string
	type ent struct {
		name string
		headerEntry
		size int64
	}
	ents := make([]ent, 0, len(raw))
	for name, m := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(m, &meta); err != nil {
				return nil, nil, fmt.Errorf("%w: metadata must map strings to strings: %v", ErrFormat, err)
			}
			continue
		}
		var e headerEntry
		if err := json.Unmarshal(m, &e); err != nil {
			return nil, nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, name, err)
		}
		es, ok := dtypeSize[e.Dtype]
		if !ok {
			return nil, nil, fmt.Errorf("%w: tensor %q: unsupported dtype %q (want F32, F16 or BF16)", ErrFormat, name, e.Dtype)
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && n > math.MaxInt64/8/int64(d)) {
				return nil, nil, fmt.Errorf("%w: tensor %q: bad shape %v", ErrFormat, name, e.Shape)
			}
			n *= int64(d)
		}
		if e.DataOffsets[1]-e.DataOffsets[0] != n*es || e.DataOffsets[0] < 0 {
			return nil, nil, fmt.Errorf("%w: tensor %q: offsets %v do not hold %s%v", ErrFormat, name, e.DataOffsets, e.Dtype, e.Shape)
		}
		ents = append(ents, ent{name: name, headerEntry: e, size: n * es})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].DataOffsets[0] < ents[j].DataOffsets[0] })
	var total int64
	for _, e := range ents {
		if e.DataOffsets[0] != total {
			return nil, nil, fmt.Errorf("%w: tensor %q starts at %d, want %d (gaps and overlaps are not allowed)", ErrFormat, e.name, e.DataOffsets[0], total)
		}
		total = e.DataOffsets[1]
	}
	if lim.MaxData > 0 && total > lim.MaxData {
		return nil, nil, fmt.Errorf("%w: %d bytes of tensor data exceed the limit of %d", ErrFormat, total, lim.MaxData)
	}
	ts := make([]Tensor, 0, len(ents))
	buf := make([]byte, 1<<16)
	for _, e := range ents {
		es := dtypeSize[e.Dtype]
		data := make([]float32, e.size/es)
		for i := 0; i < len(data); {
			n := min(len(data)-i, len(buf)/int(es))
			b := buf[:n*int(es)]
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, nil, fmt.Errorf("%w: tensor %q data: %v", ErrFormat, e.name, err)
			}
			decode(e.Dtype, data[i:i+n], b)
			i += n
		}
		ts = append(ts, Tensor{Name: e.name, Shape: e.Shape, Data: data})
	}
	s, err := NewSet(ts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return s, meta, nil
}

var dtypeSize = map[string]int64{"F32": 4, "F16": 2, "BF16": 2}

func decode(dtype string, dst []float32, b []byte) {
	switch dtype {
	case "F32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "BF16":
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case "F16":
		for i := range dst {
			dst[i] = f16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	}
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(mant) / 1024 / 16384
		if sign != 0 {
			return -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
