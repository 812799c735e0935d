package toploc

import (
	"errors"
	"math"
	"testing"
)

func TestCheckGeneration(t *testing.T) {
	const eos = 2
	ok := Generation{PromptTokens: 4, Tokens: []int{5, 6, 7, eos}, MaxNewTokens: 10, StopTokens: []int{eos}}
	probs := func(p ...float64) []float64 { return p }
	for name, tc := range map[string]struct {
		g    Generation
		rows int
		ok   bool
	}{
		"stopped at eos":          {ok, 8, true},
		"hit the limit":           {Generation{PromptTokens: 4, Tokens: []int{5, 6, 7}, MaxNewTokens: 3, StopTokens: []int{eos}}, 7, true},
		"no limit, no eos":        {Generation{PromptTokens: 1, Tokens: []int{5}}, -1, true},
		"with plausible probs":    {func() Generation { g := ok; g.TokenProbs = probs(0.5, 0.2, 0.9, 0.6); return g }(), 8, true},
		"rows differ":             {ok, 9, false},
		"over the limit":          {Generation{Tokens: []int{5, 6, 7, 8}, MaxNewTokens: 3}, -1, false},
		"ran past eos":            {Generation{Tokens: []int{5, eos, 7, eos}, MaxNewTokens: 10, StopTokens: []int{eos}}, -1, false},
		"stopped early":           {Generation{Tokens: []int{5, 6}, MaxNewTokens: 10, StopTokens: []int{eos}}, -1, false},
		"forced eos":              {func() Generation { g := ok; g.TokenProbs = probs(0.5, 0.2, 0.9, 0.01); return g }(), 8, false},
		"chosen, not sampled":     {func() Generation { g := ok; g.TokenProbs = probs(1e-6, 0.2, 0.9, 0.6); return g }(), 8, false},
		"NaN probability":         {func() Generation { g := ok; g.TokenProbs = probs(math.NaN(), 0.2, 0.9, 0.6); return g }(), 8, false},
		"probabilities too short": {func() Generation { g := ok; g.TokenProbs = probs(0.5); return g }(), 8, false},
	} {
		err := CheckGeneration(tc.g, tc.rows, GenerationLimits{})
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrGeneration)) {
			t.Errorf("%s: %v, want ok=%v", name, err, tc.ok)
		}
	}
}
