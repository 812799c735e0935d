//go:build !linux

package toploc

import "time"

func threadCPUTime() (time.Duration, bool) { return 0, false }
