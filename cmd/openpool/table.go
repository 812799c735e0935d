package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/openpool/openpool/p2p"
)

// printMembers writes a pool's member table.
func printMembers(w io.Writer, pool string, members []p2p.Member, now time.Time) {
	alive := 0
	for _, m := range members {
		if m.State == p2p.StateAlive {
			alive++
		}
	}
	fmt.Fprintf(w, "pool %s: %d alive, %d listed\n", pool, alive, len(members))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tSTATE\tLAST SEEN\tSTEP\tCKPT\tCPU\tMEM\tGPU")
	for _, m := range members {
		id := m.ID.String()
		if m.Self {
			id += " (self)"
		}
		seen := "-"
		if !m.LastSeen.IsZero() {
			seen = now.Sub(m.LastSeen).Round(100*time.Millisecond).String() + " ago"
		}
		gpu := "-"
		if m.Hardware.GPUs > 0 {
			gpu = fmt.Sprintf("%dx %s %dGiB", m.Hardware.GPUs, m.Hardware.GPUModel, m.Hardware.GPUMemoryMiB/1024)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%dGiB\t%s\n", id, m.State, seen, m.OuterStep, m.CheckpointVersion,
			m.Hardware.CPUCores, m.Hardware.MemoryMiB/1024, gpu)
	}
	tw.Flush()
}
