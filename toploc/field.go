package toploc

import (
	"slices"
	"sync"
)

// Prime is the field modulus of the proof polynomials: the largest prime
// below 2^16, so that every coefficient fits a big-endian uint16.
const Prime = 65497

// inverses holds the multiplicative inverse of every element of GF(Prime)
// (0 at 0 and above Prime, never used). It is computed once, on first use,
// and never written again; it turns the divisions of Newton interpolation
// into table look-ups. The array has 2^16 entries so that a uint16 index
// needs no bounds check.
var inverses = sync.OnceValue(func() *[1 << 16]uint16 {
	var inv [1 << 16]uint16
	inv[1] = 1
	for i := uint32(2); i < Prime; i++ {
		// inv(i) = -(p/i) * inv(p mod i)  (mod p)
		inv[i] = uint16((Prime - (Prime/i)*uint32(inv[Prime%i])%Prime) % Prime)
	}
	return &inv
})

// subMod returns a - b mod Prime for a, b < Prime, without a branch.
func subMod(a, b uint32) uint32 {
	d := a - b
	return d + Prime&uint32(int32(d)>>31)
}

// sortPoints orders the points (x_i, y_i) by ascending x, using scratch.
// The polynomial through them does not depend on their order. With
// 2·len(x) of scratch and every x below 2^16 (the prover's case: x is an
// index mod m <= Prime) it is a two-pass radix sort on the bytes of x,
// a few times faster than a comparison sort for k = 128; otherwise (and
// with len(x) of scratch) a comparison sort.
func sortPoints(x, y []uint32, scratch []uint64) {
	n := len(x)
	a := scratch[:n]
	var high uint32
	for i := range a {
		a[i] = uint64(x[i])<<32 | uint64(y[i])
		high |= x[i]
	}
	if len(scratch) >= 2*n && high < 1<<16 {
		b := scratch[n : 2*n]
		var lo, hi [257]int
		for _, v := range a {
			lo[int(uint8(v>>32))+1]++
			hi[int(uint8(v>>40))+1]++
		}
		for i := 1; i < len(lo); i++ {
			lo[i] += lo[i-1]
			hi[i] += hi[i-1]
		}
		for _, v := range a {
			d := uint8(v >> 32)
			b[lo[d]] = v
			lo[d]++
		}
		for _, v := range b {
			d := uint8(v >> 40)
			a[hi[d]] = v
			hi[d]++
		}
	} else {
		slices.Sort(a)
	}
	for i, v := range a {
		x[i], y[i] = uint32(v>>32), uint32(v)
	}
}

// interpolate writes into c the coefficients, in ascending powers, of the
// unique polynomial of degree < len(x) over GF(Prime) through the points
// (x_i, y_i). The x must be strictly ascending (see sortPoints) and below
// Prime, so that every difference x_j - x_i (j > i) is already reduced; the
// y may be any uint32 (they are reduced). c and dd must be len(x) long; dd
// is scratch.
//
// Newton's divided differences, then the Newton form is expanded from the
// inside out (Horner on polynomials): k²/2 multiplications for each phase,
// none of them a modular inversion thanks to the inverse table. All
// intermediate products stay below 2^32.
func interpolate(x, y, c, dd []uint32) {
	n := len(x)
	inv := inverses()
	c = c[:n]
	dd = dd[:n]
	for i, v := range y[:n] {
		dd[i] = v % Prime
	}
	// Level by level, in place: after level l, dd[t] holds the divided
	// difference f[x_t .. x_{t+l}]; its first entry is the l-th Newton
	// coefficient, kept in c until the expansion.
	c[0] = dd[0]
	for lvl := 1; lvl < n; lvl++ {
		m := n - lvl
		lo, hi := dd[:m], dd[1:m+1]
		xl, x0 := x[lvl:lvl+m], x[:m]
		cur := lo[0] // carried in a register: hi[t] is lo[t+1]
		for t, next := range hi {
			lo[t] = subMod(next, cur) * uint32(inv[uint16(xl[t]-x0[t])]) % Prime
			cur = next
		}
		c[lvl] = lo[0]
	}
	copy(dd, c)
	// p(X) = dd0 + (X-x0)(dd1 + (X-x1)(dd2 + ...)): start with the innermost
	// term and multiply out; deg is the degree of the polynomial in c.
	c[0] = dd[n-1]
	for deg := 0; deg < n-1; deg++ {
		i := n - 2 - deg
		negx := (Prime - x[i]) % Prime
		prev := c[0]
		c[0] = (negx*prev + dd[i]) % Prime
		for j, cur := range c[1 : deg+1] {
			c[j+1] = (prev + negx*cur) % Prime
			prev = cur
		}
		c[deg+1] = prev
	}
}

// evaluate computes p(x_i) for every x_i (each below 2^16) by Horner's rule
// over GF(Prime), writing into out. Coefficients may be any 16-bit value
// (a decoded proof is not trusted to be reduced). The points are evaluated
// side by side so the multiplications of different points overlap in the
// CPU instead of waiting on one long dependency chain.
func evaluate(coeffs []uint16, x []uint32, out []uint32) {
	n := len(coeffs)
	out = out[:len(x)]
	top := uint32(coeffs[n-1]) % Prime
	for i := range out {
		out[i] = top
	}
	for j := n - 2; j >= 0; j-- {
		cj := uint32(coeffs[j])
		for i, xi := range x {
			out[i] = (out[i]*xi + cj) % Prime
		}
	}
}
