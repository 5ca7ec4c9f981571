package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go/bitscaletest"
	"github.com/bitscale/bitscale-go/internal/crashtest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The command speaks the protocol on stdin and stdout, and nothing else:
// any stray line on stdout would break the client. The test binary is the
// command here, as in the crash test, which spares building it.
func TestBitscaleMCPOverStdio(t *testing.T) {
	t.Parallel()
	bin, err := os.Executable() // the command itself, with asCommand set
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "mcp", "--fake")
	cmd.Env = append(os.Environ(), asCommand+"=1", crashtest.NoRaceSleep())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "test"}, nil).
		Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if len(names) != 8 {
		t.Errorf("tools = %q, want 8", names)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	var got struct {
		ID          string `json:"id"`
		WorkspaceID string `json:"workspace_id"`
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	if res.IsError || got.ID != "usr_abc123" || got.WorkspaceID != "ws_abc123" {
		t.Errorf("whoami = %+v (error %v), want the fake's user in ws_abc123", got, res.IsError)
	}
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Errorf("bitscale mcp ended %v, want exit 0 once its stdin closed\nstderr:\n%s", cmd.ProcessState, &stderr)
	}
	if !strings.Contains(stderr.String(), "tool=whoami") {
		t.Errorf("stderr does not log the call:\n%s", &stderr)
	}
	if strings.Contains(stderr.String(), bitscaletest.DefaultAPIKey) {
		t.Errorf("stderr shows the API key:\n%s", &stderr)
	}
}
