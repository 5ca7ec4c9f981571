package mcpserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/bitscale/bitscale-go/internal/testmain"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMain runs 4 tests at once per core: they wait on servers,
// subprocesses and timers rather than on the CPU.
func TestMain(m *testing.M) { testmain.Run(m, 4) }

// testKey is the fake's API key in these tests: distinctive, so that a
// test can tell it never reached a result.
const testKey = "bsk_test_mcp_8d7c6b5a4f3e2d1c"

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

// connect serves c's tools to an MCP client over an in-memory transport,
// and returns the client's session.
func connect(t *testing.T, c *bitscale.Client, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := New(c, &Options{Version: "test", PollInterval: time.Millisecond}).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "test"}, opts).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		ss.Wait()
	})
	return cs
}

// session starts a fake and connects to the tools of its client.
func session(t *testing.T, opts ...bitscaletest.Option) (*bitscaletest.Server, *mcp.ClientSession) {
	srv := startFake(t, opts...)
	return srv, connect(t, srv.Client(), nil)
}

// callRaw calls a tool and returns its result, failing the test on a
// protocol error or a result that shows the API key.
func callRaw(t *testing.T, cs *mcp.ClientSession, params *mcp.CallToolParams) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), params)
	if err != nil {
		t.Fatalf("%s: %v", params.Name, err)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s %v: %s", params.Name, params.Arguments, b)
	if strings.Contains(string(b), testKey) {
		t.Fatalf("%s: the result shows the API key", params.Name)
	}
	return res
}

// call calls a tool that must succeed, and returns its structured result.
func call[Out any](t *testing.T, cs *mcp.ClientSession, name string, args any) Out {
	t.Helper()
	res := callRaw(t, cs, &mcp.CallToolParams{Name: name, Arguments: args})
	if res.IsError {
		t.Fatalf("%s: error result: %s", name, text(res))
	}
	return structured[Out](t, res)
}

// structured decodes a result's structured content.
func structured[Out any](t *testing.T, res *mcp.CallToolResult) Out {
	t.Helper()
	var out Out
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return out
}

// callError calls a tool that must fail, and returns its error text.
func callError(t *testing.T, cs *mcp.ClientSession, name string, args any) string {
	t.Helper()
	res := callRaw(t, cs, &mcp.CallToolParams{Name: name, Arguments: args})
	if !res.IsError {
		t.Fatalf("%s: got a result, want an error", name)
	}
	return text(res)
}

// text joins a result's text content.
func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// wantContains fails the test unless s contains each of subs.
func wantContains(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q\ndoes not contain %q", s, sub)
		}
	}
}

func mcpParams(name string, args any) *mcp.CallToolParams {
	return &mcp.CallToolParams{Name: name, Arguments: args}
}

// outcome is the error of an accepted async run not seen to end.
func outcome(runID string) error {
	return &bitscale.OutcomeError{Err: context.DeadlineExceeded, RunID: runID}
}
