package diloco

// withFrameMutator lets a test corrupt or delay the frames a ring sends.
func withFrameMutator(f func(phase, chunk int, frame []byte) []byte) RingOption {
	return func(c *ringConfig) error { c.mutate = f; return nil }
}

// WithFrameMutator is withFrameMutator for the external test package.
var WithFrameMutator = withFrameMutator
