package bridgelab

import (
	"testing"
	"time"
)

func TestCPUBusy(t *testing.T) {
	since := SampleCPU()
	if since.total == 0 || since.idle > since.total {
		t.Fatalf("sample %+v: want total > 0 and idle <= total", since)
	}
	// Spin until the counters (clock ticks) have moved, at most 5 s.
	x := 0
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end) && SampleCPU().total < since.total+10; {
		for i := range 1 << 20 {
			x ^= i
		}
	}
	_ = x
	if b := since.Busy(); b <= 0 || b > 1 {
		t.Fatalf("busy %v after spinning, want in (0, 1]", b)
	}
	if b := (CPUTimes{}).Busy(); b != -1 {
		t.Fatalf("busy of a zero sample %v, want -1", b)
	}
}
