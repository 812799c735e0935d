package toploc

import (
	"errors"
	"fmt"
	"slices"
)

// ErrGeneration is wrapped by every failed sanity check of a generation.
var ErrGeneration = errors.New("toploc: generation check failed")

// Generation is what a validator knows about one completion besides its
// activations: the token ids the prover returned, the request's limit and
// stop tokens, and, optionally, the probability the verifier's own forward
// pass (the same prefill that yields its activations) gives each returned
// token.
type Generation struct {
	PromptTokens int
	Tokens       []int // generated token ids, in order
	MaxNewTokens int   // the request's limit; 0 when there was none
	StopTokens   []int // EOS and any other stop ids
	// TokenProbs[i] is the verifier's probability of Tokens[i] given the
	// tokens before it, after the request's sampling settings (temperature,
	// top-p). Nil skips the probability checks.
	TokenProbs []float64
}

// GenerationLimits tune the probability checks. The defaults are choices of
// this package (the paper leaves them to the deployment): a stop token must
// have been at least 10% likely where the prover stopped, and at most 5% of
// tokens may have had a probability below 1e-4.
type GenerationLimits struct {
	MinStopProb        float64
	MinTokenProb       float64
	MaxLowProbFraction float64
}

// DefaultGenerationLimits are used by CheckGeneration with a zero limits.
var DefaultGenerationLimits = GenerationLimits{MinStopProb: 0.1, MinTokenProb: 1e-4, MaxLowProbFraction: 0.05}

// CheckGeneration runs the sanity checks that TOPLOC's activations cannot
// make: that generation stopped where it should, and, with the verifier's
// token probabilities, that the tokens were plausibly sampled from the
// model rather than chosen. rows is the number of activation rows the
// verifier computed (prompt plus generated tokens), so a proof over a
// different text length is caught too; pass -1 to skip that check.
func CheckGeneration(g Generation, rows int, lim GenerationLimits) error {
	if lim == (GenerationLimits{}) {
		lim = DefaultGenerationLimits
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrGeneration, fmt.Sprintf(format, args...))
	}
	n := len(g.Tokens)
	if rows >= 0 && rows != g.PromptTokens+n {
		return fail("%d activation rows for %d prompt and %d generated tokens", rows, g.PromptTokens, n)
	}
	if g.MaxNewTokens > 0 && n > g.MaxNewTokens {
		return fail("%d tokens generated, the limit was %d", n, g.MaxNewTokens)
	}
	for i, tok := range g.Tokens[:max(0, n-1)] {
		if slices.Contains(g.StopTokens, tok) {
			return fail("stop token %d at position %d of %d: generation ran past it", tok, i, n)
		}
	}
	stopped := n > 0 && slices.Contains(g.StopTokens, g.Tokens[n-1])
	if !stopped && g.MaxNewTokens > 0 && n < g.MaxNewTokens {
		return fail("generation ended after %d of %d tokens without a stop token", n, g.MaxNewTokens)
	}
	if g.TokenProbs == nil {
		return nil
	}
	if len(g.TokenProbs) != n {
		return fail("%d token probabilities for %d tokens", len(g.TokenProbs), n)
	}
	if stopped && g.TokenProbs[n-1] < lim.MinStopProb {
		return fail("stopped with probability %.3g for the stop token (minimum %g)", g.TokenProbs[n-1], lim.MinStopProb)
	}
	low := 0
	for _, p := range g.TokenProbs {
		if !(p >= lim.MinTokenProb) { // NaN counts as low
			low++
		}
	}
	if n > 0 && float64(low) > lim.MaxLowProbFraction*float64(n) {
		return fail("%d of %d tokens had probability below %g (at most %.0f%% allowed)", low, n, lim.MinTokenProb, 100*lim.MaxLowProbFraction)
	}
	return nil
}
