package toploc

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
)

// Sampled decides whether a validator checks one work submission: true for
// about fraction of all submissions, decided by SHA-256 over seed and the
// submission's ID. Every validator that knows the seed reaches the same
// decision; a prover that cannot predict the seed when it submits (for
// example a block hash or a beacon value fixed after the submission
// deadline) cannot know which of its submissions will be checked.
func Sampled(seed, submissionID []byte, fraction float64) bool {
	switch {
	case !(fraction > 0): // also NaN
		return false
	case fraction >= 1:
		return true
	}
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(seed)))
	h.Write(n[:]) // length prefix: (seed, id) pairs cannot be confused
	h.Write(seed)
	h.Write(submissionID)
	v := binary.BigEndian.Uint64(h.Sum(nil))
	return float64(v) < fraction*math.Exp2(64)
}
