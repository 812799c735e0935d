package tensorfile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// MaxSafetensorsHeader bounds the JSON header (the reference library's own
// limit is 100 MB; a header of hidden-state tensors is a few hundred bytes).
const MaxSafetensorsHeader = 16 << 20

type stEntry struct {
	DType   string  `json:"dtype"`
	Shape   []int   `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// SafetensorsHeader lists the tensors of a safetensors file (data not read).
func SafetensorsHeader(r io.ReaderAt, size int64) ([]Tensor, error) {
	entries, _, err := readSTHeader(r, size)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]Tensor, len(names))
	for i, n := range names {
		out[i] = Tensor{Name: n, DType: DType(entries[n].DType), Shape: entries[n].Shape}
	}
	return out, nil
}

func readSTHeader(r io.ReaderAt, size int64) (map[string]stEntry, int64, error) {
	var lb [8]byte
	if size < 8 {
		return nil, 0, fmt.Errorf("%w: %d bytes is too short for safetensors", ErrFormat, size)
	}
	if _, err := r.ReadAt(lb[:], 0); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n > MaxSafetensorsHeader || int64(n) > size-8 {
		return nil, 0, fmt.Errorf("%w: safetensors header of %d bytes (file %d, limit %d)", ErrFormat, n, size, MaxSafetensorsHeader)
	}
	hb := make([]byte, n)
	if _, err := r.ReadAt(hb, 8); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, 0, fmt.Errorf("%w: safetensors header: %w", ErrFormat, err)
	}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	entries := make(map[string]stEntry, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			continue
		}
		var e stEntry
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, 0, fmt.Errorf("%w: tensor %q: %w", ErrFormat, name, err)
		}
		if len(e.Offsets) != 2 || e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] || e.Offsets[1] > dataLen {
			return nil, 0, fmt.Errorf("%w: tensor %q: offsets %v outside %d data bytes", ErrFormat, name, e.Offsets, dataLen)
		}
		if es := DType(e.DType).Size(); es > 0 {
			cnt, err := numElements(e.Shape, dataLen)
			if err != nil {
				return nil, 0, fmt.Errorf("tensor %q: %w", name, err)
			}
			if cnt*int64(es) != e.Offsets[1]-e.Offsets[0] {
				return nil, 0, fmt.Errorf("%w: tensor %q: shape %v of %s needs %d bytes, offsets give %d", ErrFormat, name, e.Shape, e.DType, cnt*int64(es), e.Offsets[1]-e.Offsets[0])
			}
		}
		entries[name] = e
	}
	return entries, dataStart, nil
}

// ReadSafetensors reads the tensor called name (or the only tensor when name
// is empty) from a safetensors file of the given size.
func ReadSafetensors(r io.ReaderAt, size int64, name string) (Tensor, error) {
	entries, dataStart, err := readSTHeader(r, size)
	if err != nil {
		return Tensor{}, err
	}
	if name == "" {
		if len(entries) != 1 {
			names := make([]string, 0, len(entries))
			for n := range entries {
				names = append(names, n)
			}
			slices.Sort(names)
			return Tensor{}, fmt.Errorf("%w: %d tensors (%s); name the one to use", ErrUnsupported, len(entries), strings.Join(names, ", "))
		}
		for n := range entries {
			name = n
		}
	}
	e, ok := entries[name]
	if !ok {
		return Tensor{}, fmt.Errorf("%w: no tensor %q", ErrUnsupported, name)
	}
	if DType(e.DType).Size() == 0 {
		return Tensor{}, fmt.Errorf("%w: tensor %q has dtype %s (want BF16, F16 or F32)", ErrUnsupported, name, e.DType)
	}
	data := make([]byte, e.Offsets[1]-e.Offsets[0])
	if _, err := r.ReadAt(data, dataStart+e.Offsets[0]); err != nil {
		return Tensor{}, fmt.Errorf("%w: tensor %q: %w", ErrFormat, name, err)
	}
	return Tensor{Name: name, DType: DType(e.DType), Shape: slices.Clone(e.Shape), Data: data}, nil
}

// WriteSafetensors writes tensors (in the given order) as a safetensors file.
func WriteSafetensors(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, t := range tensors {
		if t.DType.Size() == 0 || int64(t.NumElements()*t.DType.Size()) != int64(len(t.Data)) {
			return fmt.Errorf("tensorfile: tensor %q: %d bytes do not match %s %v", t.Name, len(t.Data), t.DType, t.Shape)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = stEntry{DType: string(t.DType), Shape: shape, Offsets: []int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 { // the format pads the header with spaces to 8 bytes
		hb = append(hb, ' ')
	}
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(hb)))
	if _, err := w.Write(lb[:]); err != nil {
		return err
	}
	if _, err := w.Write(hb); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}
