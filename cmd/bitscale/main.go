// Command bitscale runs BitScale grids and reads workspaces, grids and runs
// from the terminal, on the BitScale Go SDK.
//
//	go install github.com/bitscale/bitscale-go/cmd/bitscale@latest
//
//	export BITSCALE_API_KEY=...   # from your BitScale settings
//	bitscale whoami
//	bitscale grids get grid_001
//	bitscale run grid_001 --input "Full Name=Jane Doe" --input Company=Acme
//	bitscale enrich grid_001 leads.csv -o enriched.csv
//
// Every command takes --fake to run against an embedded fake BitScale
// seeded with the API reference's examples, so it can be tried with no
// account, and --json for output that scripts can rely on.
//
// Exit codes: 0 success; 1 an error (from the API, the network or a file);
// 2 a bad command line or configuration, found before anything was sent;
// 3 a batch that ended (with --dry-run: would end) with rows failed,
// unknown or not attempted;
// 130 interrupted.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop := make(chan struct{})
	a.stop = stop
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go a.interrupts(signals, stop, cancel)
	code := a.execute(ctx, os.Args[1:])
	cancel()
	os.Exit(code)
}
