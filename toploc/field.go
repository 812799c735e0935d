package toploc

import "sync"

// Prime is the field modulus of the proof polynomials: the largest prime
// below 2^16, so that every coefficient fits a big-endian uint16.
const Prime = 65497

// inverses holds the multiplicative inverse of every non-zero element of
// GF(Prime). It is computed once, on first use, and never written again; it
// turns the divisions of Newton interpolation into table look-ups.
var inverses = sync.OnceValue(func() []uint16 {
	inv := make([]uint16, Prime)
	inv[1] = 1
	for i := uint32(2); i < Prime; i++ {
		// inv(i) = -(p/i) * inv(p mod i)  (mod p)
		inv[i] = uint16((Prime - (Prime/i)*uint32(inv[Prime%i])%Prime) % Prime)
	}
	return inv
})

// interpolate writes into c the coefficients, in ascending powers, of the
// unique polynomial of degree < len(x) over GF(Prime) through the points
// (x_i, y_i). The x must be distinct and below Prime; the y may be any
// uint32 (they are reduced). c and dd must be len(x) long; dd is scratch.
//
// Newton's divided differences, then the Newton form is expanded from the
// inside out (Horner on polynomials): k²/2 multiplications for each phase,
// none of them a modular inversion thanks to the inverse table. All
// intermediate products stay below 2^32.
func interpolate(x, y, c, dd []uint32) {
	n := len(x)
	inv := inverses()
	for i := range n {
		dd[i] = y[i] % Prime
	}
	for lvl := 1; lvl < n; lvl++ {
		for i := n - 1; i >= lvl; i-- {
			num := dd[i] + Prime - dd[i-1]
			if num >= Prime {
				num -= Prime
			}
			den := x[i] + Prime - x[i-lvl]
			if den >= Prime {
				den -= Prime
			}
			dd[i] = num * uint32(inv[den]) % Prime
		}
	}
	// p(X) = dd0 + (X-x0)(dd1 + (X-x1)(dd2 + ...)): start with the innermost
	// term and multiply out; deg is the degree of the polynomial in c.
	c[0] = dd[n-1]
	deg := 0
	for i := n - 2; i >= 0; i-- {
		negx := (Prime - x[i]) % Prime
		c[deg+1] = c[deg]
		for j := deg; j >= 1; j-- {
			c[j] = (c[j-1] + negx*c[j]) % Prime
		}
		c[0] = (negx*c[0] + dd[i]) % Prime
		deg++
	}
}

// evaluate computes p(x_i) for every x_i (each below 2^16) by Horner's rule
// over GF(Prime), writing into out. Coefficients may be any 16-bit value
// (a decoded proof is not trusted to be reduced). The points are evaluated
// side by side so the multiplications of different points overlap in the
// CPU instead of waiting on one long dependency chain.
func evaluate(coeffs []uint16, x []uint32, out []uint32) {
	n := len(coeffs)
	top := uint32(coeffs[n-1]) % Prime
	for i := range x {
		out[i] = top
	}
	for j := n - 2; j >= 0; j-- {
		cj := uint32(coeffs[j])
		for i, xi := range x {
			out[i] = (out[i]*xi + cj) % Prime
		}
	}
}
