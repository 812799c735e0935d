package tensorfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const npyMagic = "\x93NUMPY"

// MaxNPYHeader bounds the header dictionary of a .npy file.
const MaxNPYHeader = 1 << 20

// ReadNPY reads a .npy array of at most limit bytes in all. Accepted dtypes:
// '<f4' (F32), '<f2' (F16), and '<u2', '<i2' or '|V2' as bf16 bit patterns
// (NumPy has no bf16; ml_dtypes and torch users save the raw bits). Big-endian
// and Fortran-ordered arrays are refused.
func ReadNPY(r io.Reader, limit int64) (Tensor, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return Tensor{}, fmt.Errorf("%w: npy preamble: %w", ErrFormat, err)
	}
	if string(pre[:6]) != npyMagic {
		return Tensor{}, fmt.Errorf("%w: not a .npy file", ErrFormat)
	}
	var hlen int64
	switch pre[6] {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return Tensor{}, fmt.Errorf("%w: npy preamble: %w", ErrFormat, err)
		}
		hlen = int64(binary.LittleEndian.Uint16(pre[8:10]))
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return Tensor{}, fmt.Errorf("%w: npy preamble: %w", ErrFormat, err)
		}
		hlen = int64(binary.LittleEndian.Uint32(l[:]))
	default:
		return Tensor{}, fmt.Errorf("%w: npy version %d.%d", ErrUnsupported, pre[6], pre[7])
	}
	if hlen > MaxNPYHeader || hlen > limit {
		return Tensor{}, fmt.Errorf("%w: npy header of %d bytes", ErrFormat, hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return Tensor{}, fmt.Errorf("%w: npy header: %w", ErrFormat, err)
	}
	descr, fortran, shape, err := parseNPYHeader(string(hb))
	if err != nil {
		return Tensor{}, err
	}
	var dt DType
	switch descr {
	case "<f4":
		dt = F32
	case "<f2":
		dt = F16
	case "<u2", "<i2", "|V2", "<V2":
		dt = BF16
	default:
		return Tensor{}, fmt.Errorf("%w: npy dtype %q (want '<f4', '<f2', or bf16 bits as '<u2')", ErrUnsupported, descr)
	}
	if fortran && len(shape) > 1 {
		return Tensor{}, fmt.Errorf("%w: Fortran-ordered array; save it C-ordered (np.ascontiguousarray)", ErrUnsupported)
	}
	n, err := numElements(shape, limit)
	if err != nil {
		return Tensor{}, err
	}
	size := n * int64(dt.Size())
	if size > limit {
		return Tensor{}, fmt.Errorf("%w: npy shape %v needs %d bytes, file has %d", ErrFormat, shape, size, limit)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return Tensor{}, fmt.Errorf("%w: npy data: %w", ErrFormat, err)
	}
	return Tensor{DType: dt, Shape: shape, Data: data}, nil
}

// parseNPYHeader reads the Python dict literal of a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
func parseNPYHeader(h string) (descr string, fortran bool, shape []int, err error) {
	bad := func(what string) error { return fmt.Errorf("%w: npy header %s: %q", ErrFormat, what, h) }
	h = strings.TrimSpace(h)
	if !strings.HasPrefix(h, "{") || !strings.HasSuffix(h, "}") {
		return "", false, nil, bad("is not a dict")
	}
	body := h[1 : len(h)-1]
	seen := 0
	for len(strings.TrimSpace(body)) > 0 {
		body = strings.TrimSpace(body)
		key, rest, ok := quoted(body)
		if !ok {
			return "", false, nil, bad("key")
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return "", false, nil, bad("colon")
		}
		rest = strings.TrimSpace(rest[1:])
		switch key {
		case "descr":
			descr, rest, ok = quoted(rest)
			if !ok {
				return "", false, nil, bad("descr")
			}
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "True"):
				fortran, rest = true, rest[4:]
			case strings.HasPrefix(rest, "False"):
				fortran, rest = false, rest[5:]
			default:
				return "", false, nil, bad("fortran_order")
			}
		case "shape":
			end := strings.IndexByte(rest, ')')
			if !strings.HasPrefix(rest, "(") || end < 0 {
				return "", false, nil, bad("shape")
			}
			shape = []int{}
			for _, f := range strings.Split(rest[1:end], ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				d, err := strconv.Atoi(strings.TrimSuffix(f, "L"))
				if err != nil || d < 0 {
					return "", false, nil, bad("shape")
				}
				shape = append(shape, d)
			}
			rest = rest[end+1:]
		default:
			return "", false, nil, bad("key " + key)
		}
		seen++
		rest = strings.TrimSpace(rest)
		rest = strings.TrimPrefix(rest, ",")
		body = rest
	}
	if descr == "" || shape == nil || seen != 3 {
		return "", false, nil, bad("fields")
	}
	return descr, fortran, shape, nil
}

// quoted reads a '...' or "..." string at the start of s.
func quoted(s string) (string, string, bool) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') {
		return "", s, false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", s, false
	}
	return s[1 : 1+end], s[2+end:], true
}

// WriteNPY writes t as a version 1.0 .npy file. BF16 is written as '<u2'
// bit patterns.
func WriteNPY(w io.Writer, t Tensor) error {
	var descr string
	switch t.DType {
	case F32:
		descr = "<f4"
	case F16:
		descr = "<f2"
	case BF16:
		descr = "<u2"
	default:
		return fmt.Errorf("%w: dtype %s", ErrUnsupported, t.DType)
	}
	if t.NumElements()*t.DType.Size() != len(t.Data) {
		return fmt.Errorf("tensorfile: %d bytes do not match %s %v", len(t.Data), t.DType, t.Shape)
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	// Pad so that magic + 4 + header is a multiple of 64, ending in '\n'.
	total := 10 + len(h) + 1
	h += strings.Repeat(" ", (64-total%64)%64) + "\n"
	pre := []byte(npyMagic + "\x01\x00")
	pre = binary.LittleEndian.AppendUint16(pre, uint16(len(h)))
	if _, err := w.Write(pre); err != nil {
		return err
	}
	if _, err := io.WriteString(w, h); err != nil {
		return err
	}
	_, err := w.Write(t.Data)
	return err
}
