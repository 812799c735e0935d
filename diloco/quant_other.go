//go:build !amd64 || purego

package diloco

const hasAVX2 = false

func absmaxAVX2(*float32, int) uint32                  { panic("unreachable") }
func quantizeAVX2(*byte, *float32, int, float32)       { panic("unreachable") }
func dequantAVX2(*float32, *byte, int, float32, uint8) { panic("unreachable") }
