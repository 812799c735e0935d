//go:build unix

package diloco

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// MappedVector is a float32 vector backed by a file mapped into memory
// (MAP_SHARED): all-reduces of models larger than RAM page to and from the
// file instead of the heap.
type MappedVector struct {
	Data []float32
	raw  []byte
}

// MapVector maps path (created or resized to n float32 values) read-write.
func MapVector(path string, n int) (*MappedVector, error) {
	if n <= 0 {
		return nil, fmt.Errorf("diloco: map %s: %d values", path, n)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("diloco: map %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(int64(n) * 4); err != nil {
		return nil, fmt.Errorf("diloco: map %s: %w", path, err)
	}
	raw, err := syscall.Mmap(int(f.Fd()), 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("diloco: map %s: %w", path, err)
	}
	return &MappedVector{Data: unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n), raw: raw}, nil
}

// Close unmaps the file; Data must not be used afterwards.
func (m *MappedVector) Close() error {
	m.Data = nil
	if err := syscall.Munmap(m.raw); err != nil {
		return fmt.Errorf("diloco: unmap: %w", err)
	}
	return nil
}
