package toploc

import (
	mathbits "math/bits"
	"unsafe"
)

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

// selector holds the scratch space of one top-k search; reuse it. It also
// remembers the k-th key of the previous search as a hint for the next one:
// consecutive chunks of one inference have similar magnitudes, so starting
// just below the previous threshold skips the warm-up in which most elements
// pass. The hint never changes the result: when fewer than k elements clear
// it, the search runs again from scratch.
type selector struct {
	cand    []uint64
	idx     []uint32
	hint    uint16
	hasHint bool
}

// hintMargin lowers the hint by an eighth of an octave (bf16 keys have 128
// steps per power of two), enough for the next chunk's k-th value to differ.
const hintMargin = 16

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
	capacity := max(4*k, 512)
	if cap(s.cand) < capacity {
		s.cand = make([]uint64, 0, capacity)
	}
	var cand []uint64
	if s.hasHint && s.hint > hintMargin {
		cand = s.scan(bits, k, 0, s.hint-hintMargin, s.cand[:0])
	}
	if len(cand) < k {
		// No hint, or it was too high: seed with the first k elements,
		// whose smallest key is a safe threshold.
		cand = s.cand[:0]
		for i := range k {
			cand = append(cand, rank(bits[i]&signMask16, i))
		}
		cand = s.scan(bits, k, k, minKey(cand), cand)
	}
	if len(cand) > k {
		selectTop(cand, k)
		cand = cand[:k]
	}
	s.cand = cand
	s.hint, s.hasHint = minKey(cand), true
	if cap(s.idx) < k {
		s.idx = make([]uint32, k)
	}
	out := s.idx[:k]
	for j, r := range cand {
		out[j] = rankIndex(r)
	}
	return out
}

// scan appends to cand every element from index i on whose key exceeds the
// threshold, cutting cand back to its best k (and raising the threshold)
// whenever it fills. It returns cand, which holds the top k of what it saw
// plus all the elements it was given if it saw at least k above thr.
func (s *selector) scan(bits []uint16, k, i int, thr uint16, cand []uint64) []uint64 {
	add := laneOne * uint64(signMask16-thr)
	n := len(bits)
	// admit pushes element j and, when cand is full, keeps the best k.
	admit := func(j int, key uint16) {
		cand = append(cand, rank(key, j))
		if len(cand) == cap(cand) {
			selectTop(cand, k)
			cand = cand[:k]
			thr = minKey(cand)
			add = laneOne * uint64(signMask16-thr)
		}
	}
	// Scalar head up to an 8-byte boundary so the words below are aligned.
	for ; i < n && uintptr(unsafe.Pointer(&bits[i]))%8 != 0; i++ {
		if key := bits[i] & signMask16; key > thr {
			admit(i, key)
		}
	}
	if nw := (n - i) / 4; nw > 0 {
		words := unsafe.Slice((*uint64)(unsafe.Pointer(&bits[i])), nw)
		base := i
		for w := 0; w < len(words); {
			// key > thr  <=>  key + (0x7fff - thr) sets the lane's top bit;
			// no lane carries into the next since both terms are <= 0x7fff.
			a := add
			if len(words)-w >= 8 {
				g := words[w : w+8 : w+8]
				m := (((g[0] & laneLo) + a) | ((g[1] & laneLo) + a) | ((g[2] & laneLo) + a) | ((g[3] & laneLo) + a) |
					((g[4] & laneLo) + a) | ((g[5] & laneLo) + a) | ((g[6] & laneLo) + a) | ((g[7] & laneLo) + a)) & laneHi
				if m != 0 {
					// Visit only the lanes that passed, in index order (ties
					// need it); admit may have raised thr since a was taken.
					for q, word := range g {
						hits := ((word & laneLo) + a) & laneHi
						for hits != 0 {
							j := base + 4*(w+q) + mathbits.TrailingZeros64(hits)/16
							if key := bits[j] & signMask16; key > thr {
								admit(j, key)
							}
							hits &= hits - 1
						}
					}
				}
				w += 8
				continue
			}
			if ((words[w]&laneLo)+a)&laneHi != 0 {
				for j := base + 4*w; j < base+4*w+4; j++ {
					if key := bits[j] & signMask16; key > thr {
						admit(j, key)
					}
				}
			}
			w++
		}
		i = base + 4*nw
	}
	for ; i < n; i++ {
		if key := bits[i] & signMask16; key > thr {
			admit(i, key)
		}
	}
	return cand
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
