package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/bitscale/bitscale-go/internal/testmain"
)

// TestMain runs 4 tests at once per core: many wait on subprocesses and
// servers, the crash test's kills above all, which would otherwise hold
// both places a 2-core machine has while the other tests queue.
func TestMain(m *testing.M) { testmain.Run(m, 4) }

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testKey is the fake's API key in these tests: distinctive, so that a
// test can tell it never reached the output.
const testKey = "bsk_test_9f8e7d6c5b4a39281706"

// startFake starts a fake BitScale whose async runs end at once, with a
// rate limit the tests never reach.
func startFake(t *testing.T, opts ...bitscaletest.Option) *bitscaletest.Server {
	t.Helper()
	opts = append([]bitscaletest.Option{
		bitscaletest.WithAPIKey(testKey),
		bitscaletest.WithRateLimit(1_000_000, time.Minute),
		bitscaletest.WithRunDurations(time.Millisecond, 5*time.Millisecond),
	}, opts...)
	srv := bitscaletest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// env returns the environment that points the command at srv.
func env(srv *bitscaletest.Server) map[string]string {
	return map[string]string{
		"BITSCALE_API_KEY":      srv.APIKey(),
		"BITSCALE_BASE_URL":     srv.URL(),
		"BITSCALE_WORKSPACE_ID": bitscaletest.SeedWorkspaceID,
	}
}

// result is what one invocation of the command did.
type result struct {
	stdout, stderr string
	code           int
}

// invocation describes how to call the command in-process.
type invocation struct {
	env   map[string]string
	stdin string
	stop  <-chan struct{} // the first Ctrl-C
	ctx   context.Context
}

// cli calls the command with args as main does, in-process, and returns
// what it printed and its exit code.
func cli(t *testing.T, inv invocation, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := newApp(strings.NewReader(inv.stdin), &stdout, &stderr, func(k string) string { return inv.env[k] })
	a.stop = inv.stop
	a.progressEvery = 0
	a.poll = 2 * time.Millisecond
	ctx := inv.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := a.execute(ctx, args)
	r := result{stdout.String(), stderr.String(), code}
	t.Logf("bitscale %q: exit %d\nstdout:\n%sstderr:\n%s", args, code, r.stdout, r.stderr)
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, testKey) {
			t.Errorf("the API key is in the output of %q", args)
		}
	}
	return r
}

// wantCode fails the test when r did not exit with code.
func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstderr: %s", r.code, code, r.stderr)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// decode parses JSON output into v, failing the test when it is not JSON.
func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
}
