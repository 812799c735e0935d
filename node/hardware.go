package node

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/openpool/openpool/p2p"
)

// DetectHardware summarises this machine for heartbeats: CPU cores, memory
// and, when nvidia-smi is installed, the GPUs.
func DetectHardware(ctx context.Context) p2p.Hardware {
	hw := p2p.Hardware{CPUCores: uint32(runtime.NumCPU()), MemoryMiB: memTotalMiB()}
	if _, err := exec.LookPath("nvidia-smi"); err != nil {
		return hw
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return hw
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, mem, ok := strings.Cut(line, ",")
		if !ok {
			continue
		}
		hw.GPUs++
		if mib, err := strconv.ParseUint(strings.TrimSpace(mem), 10, 64); err == nil {
			hw.GPUMemoryMiB += mib
		}
		if hw.GPUModel == "" {
			hw.GPUModel = truncate(strings.TrimSpace(name), 64)
		}
	}
	return hw
}

func memTotalMiB() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseUint(fields[1], 10, 64)
			return kb / 1024
		}
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
