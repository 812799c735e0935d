package toploc

import "unsafe"

// Top-k selection by absolute value over 16-bit float bit patterns.
//
// For bf16 and fp16 alike, clearing the sign bit leaves a 15-bit key whose
// integer order is the order of |x|, with every NaN above +Inf (as torch's
// topk ranks NaN first). Ties at the k-th place are broken towards the lower
// index, so the selection is deterministic: the reference leaves that order
// to torch, which does not document it.
//
// The scan keeps a threshold, the k-th best key seen so far. An element can
// enter the top-k only if its key is strictly greater (an equal key with a
// higher index loses every tie), so almost every element is rejected by one
// compare; four bf16 values are compared at once inside a uint64 (SWAR).
// Survivors go to a small candidate buffer which is cut back to the best k
// with a quickselect when it fills, raising the threshold.

const (
	signMask16 = 0x7fff
	laneLo     = 0x7fff7fff7fff7fff // the 15-bit keys of four lanes
	laneHi     = 0x8000800080008000 // the carry bit of every lane
	laneOne    = 0x0001000100010001
)

// selector holds the scratch space of one top-k search; reuse it.
type selector struct {
	cand []uint64
	idx  []uint32
}

// rank packs a key and an index so that a larger value wins: higher key
// first, lower index on equal keys.
func rank(key uint16, idx int) uint64 {
	return uint64(key)<<32 | uint64(^uint32(idx))
}

func rankIndex(r uint64) uint32 { return ^uint32(r) }

// topK returns the indices (in no particular order) of the k elements of bits
// with the largest absolute value. The returned slice aliases the selector
// and is valid until its next use. k must be in 1..len(bits) and len(bits)
// below 2^31.
func (s *selector) topK(bits []uint16, k int) []uint32 {
	capacity := 8 * k
	if capacity < 1024 {
		capacity = 1024
	}
	if cap(s.cand) < capacity {
		s.cand = make([]uint64, 0, capacity)
	}
	cand := s.cand[:0]
	for i := range k {
		cand = append(cand, rank(bits[i]&signMask16, i))
	}
	thr := minKey(cand)
	add := laneOne * uint64(signMask16-thr)

	// push admits element i; when the buffer is full it keeps the best k
	// and raises the threshold.
	push := func(i int, key uint16) {
		cand = append(cand, rank(key, i))
		if len(cand) == cap(cand) {
			selectTop(cand, k)
			cand = cand[:k]
			thr = minKey(cand)
			add = laneOne * uint64(signMask16-thr)
		}
	}

	i := k
	n := len(bits)
	// Scalar head up to an 8-byte boundary so the words below are aligned.
	for ; i < n && uintptr(unsafe.Pointer(&bits[i]))%8 != 0; i++ {
		if key := bits[i] & signMask16; key > thr {
			push(i, key)
		}
	}
	if nw := (n - i) / 4; nw > 0 {
		words := unsafe.Slice((*uint64)(unsafe.Pointer(&bits[i])), nw)
		base := i
		w := 0
		for ; w+4 <= len(words); w += 4 {
			// key > thr  <=>  key + (0x7fff - thr) sets the lane's top bit;
			// no lane can carry into the next because both terms are <= 0x7fff.
			m := (((words[w] & laneLo) + add) | ((words[w+1] & laneLo) + add) |
				((words[w+2] & laneLo) + add) | ((words[w+3] & laneLo) + add)) & laneHi
			if m == 0 {
				continue
			}
			for j := base + 4*w; j < base+4*w+16; j++ {
				if key := bits[j] & signMask16; key > thr {
					push(j, key)
				}
			}
		}
		for ; w < len(words); w++ {
			if ((words[w]&laneLo)+add)&laneHi == 0 {
				continue
			}
			for j := base + 4*w; j < base+4*w+4; j++ {
				if key := bits[j] & signMask16; key > thr {
					push(j, key)
				}
			}
		}
		i = base + 4*nw
	}
	for ; i < n; i++ {
		if key := bits[i] & signMask16; key > thr {
			push(i, key)
		}
	}
	if len(cand) > k {
		selectTop(cand, k)
		cand = cand[:k]
	}
	s.cand = cand
	if cap(s.idx) < k {
		s.idx = make([]uint32, k)
	}
	out := s.idx[:k]
	for j, r := range cand {
		out[j] = rankIndex(r)
	}
	return out
}

// minKey returns the key of the smallest rank in c.
func minKey(c []uint64) uint16 {
	m := c[0]
	for _, r := range c[1:] {
		m = min(m, r)
	}
	return uint16(m >> 32)
}

// selectTop reorders c so that its first k elements are its k largest
// (in no particular order). Iterative quickselect, median-of-three pivots.
func selectTop(c []uint64, k int) {
	lo, hi := 0, len(c)-1
	for hi > lo {
		mid := lo + (hi-lo)/2
		// Median of three, moved to c[hi] as the pivot.
		if c[mid] > c[lo] {
			c[mid], c[lo] = c[lo], c[mid]
		}
		if c[hi] > c[lo] {
			c[hi], c[lo] = c[lo], c[hi]
		}
		if c[mid] > c[hi] {
			c[mid], c[hi] = c[hi], c[mid]
		}
		pivot := c[hi]
		// Partition descending: larger than pivot to the left.
		p := lo
		for j := lo; j < hi; j++ {
			if c[j] > pivot {
				c[j], c[p] = c[p], c[j]
				p++
			}
		}
		c[p], c[hi] = c[hi], c[p]
		switch {
		case p == k || p == k-1:
			return
		case p > k:
			hi = p - 1
		default:
			lo = p + 1
		}
	}
}
