//go:build amd64 && !purego

package diloco

import "golang.org/x/sys/cpu"

// The AVX2 kernels compute exactly what the portable loops compute (the
// same IEEE float32 operations in the same order), so peers with and
// without AVX2 produce the same bytes; TestQuantKernelsMatch checks it.
var hasAVX2 = cpu.X86.HasAVX2

//go:noescape
func absmaxAVX2(src *float32, n int) uint32

//go:noescape
func quantizeAVX2(dst *byte, src *float32, n int, inv float32)

//go:noescape
func dequantAVX2(dst *float32, src *byte, n int, scale float32, mode uint8)
