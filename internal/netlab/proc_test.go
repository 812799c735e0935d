package netlab

import (
	"bytes"
	"testing"
)

func TestOutputIsBoundedAndKeepsOffsets(t *testing.T) {
	o := &output{changed: make(chan struct{})}
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	_, _, changed := o.since(0)
	for range 2 * maxOutput / len(line) {
		o.Write(line)
	}
	select {
	case <-changed:
	default:
		t.Fatal("a write did not wake waiters")
	}
	all, at, _ := o.since(0)
	if len(all) > maxOutput || len(all) < maxOutput/2 {
		t.Fatalf("kept %d bytes, want between %d and %d", len(all), maxOutput/2, maxOutput)
	}
	if total := at + int64(len(all)); total != 2*maxOutput {
		t.Fatalf("offsets add up to %d, want %d written", total, 2*maxOutput)
	}
	o.Write([]byte("tail\n"))
	b, _, _ := o.since(at + int64(len(all)))
	if string(b) != "tail\n" {
		t.Fatalf("since the last offset: %q", b)
	}
}
