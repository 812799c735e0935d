package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/openpool/openpool/node"
)

func newStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the status of the node running with this data directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := g.dataDir()
			if err != nil {
				return err
			}
			addr, err := readAPIAddr(dir)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("node at %s (from %s/%s) does not answer; is it still running? %w", addr, dir, apiFile, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status API at %s: %s", addr, resp.Status)
			}
			var st node.Status
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
				return fmt.Errorf("status API at %s: %w", addr, err)
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(g.stdout, "peer      %s\nversion   %s\nuptime    %s\nidentity  %s\npeers     %d connected, %d in DHT routing table\ntraffic   %d B in, %d B out\n",
				st.Peer, st.Version, st.Uptime, st.IdentityPath, st.Connected, st.RoutingTable, st.Bandwidth.TotalIn, st.Bandwidth.TotalOut)
			for _, a := range st.Addrs {
				fmt.Fprintf(g.stdout, "addr      %s\n", a)
			}
			for pool, ps := range st.Pools {
				fmt.Fprintln(g.stdout)
				printMembers(g.stdout, pool, ps.Members, time.Now())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the raw JSON status")
	return cmd
}
