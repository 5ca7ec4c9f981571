package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go/bitscaletest"
)

// serveFake runs bitscale fake with args on a random port until the test
// ends, and returns the banner's base URL, API key and "webhooks to:" line.
func serveFake(t *testing.T, args ...string) (base, key, webhooks string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		a := newApp(strings.NewReader(""), pw, io.Discard, func(string) string { return "" })
		done <- a.execute(ctx, append([]string{"fake", "--addr", "127.0.0.1:0"}, args...))
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("bitscale fake exited %d", code)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() && webhooks == "" {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "base URL:"); ok {
			base = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "api_key:"); ok {
			key = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "webhooks to:"); ok {
			webhooks = strings.TrimSpace(v)
		}
	}
	go io.Copy(io.Discard, pr) // the rest of the banner
	if base == "" || key == "" || webhooks == "" {
		t.Fatalf("no base URL, key or webhook line in the banner")
	}
	return base, key, webhooks
}

// startRun starts an async run that reports to hook, and returns the status.
func startRun(t *testing.T, base, key, hook string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"mode":        "async",
		"inputs":      map[string]any{bitscaletest.ColumnFullName: "Jane Doe"},
		"webhook_url": hook,
	})
	req, err := http.NewRequest(http.MethodPost, base+"grids/"+bitscaletest.SeedGridID+"/run", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header["api_key"] = []string{key}
	req.Header["workspace-id"] = []string{bitscaletest.SeedWorkspaceID}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestFakeServesTheCommand(t *testing.T) {
	t.Parallel()
	base, key, webhooks := serveFake(t, "--queued", "1h")
	if webhooks != "local and http:// URLs too, unlike BitScale (--local-webhooks)" {
		t.Errorf("banner says webhooks go to %q", webhooks)
	}
	if code := startRun(t, base, key, "http://127.0.0.1:1/hook"); code != http.StatusCreated {
		t.Errorf("a local webhook URL was answered %d, want 201", code)
	}
	r := cli(t, invocation{env: map[string]string{"BITSCALE_API_KEY": key, "BITSCALE_BASE_URL": base}}, "whoami")
	wantCode(t, r, exitOK)
	golden(t, "whoami-no-workspace.golden", r.stdout)
}

func TestFakeLocalWebhooksOff(t *testing.T) {
	t.Parallel()
	base, key, webhooks := serveFake(t, "--local-webhooks=false", "--queued", "1h")
	if webhooks != "public https:// URLs only, as BitScale (--local-webhooks=false)" {
		t.Errorf("banner says webhooks go to %q", webhooks)
	}
	if code := startRun(t, base, key, "http://127.0.0.1:1/hook"); code != http.StatusUnprocessableEntity {
		t.Errorf("a local webhook URL was answered %d, want 422 as BitScale", code)
	}
	if code := startRun(t, base, key, "https://hooks.example.com/hook"); code != http.StatusCreated {
		t.Errorf("a public webhook URL was answered %d, want 201", code)
	}
}

func TestFakeHelp(t *testing.T) {
	t.Parallel()
	r := cli(t, invocation{}, "fake", "--help")
	wantCode(t, r, exitOK)
	if !strings.Contains(r.stdout, "--local-webhooks") || !strings.Contains(r.stdout, "(default true)") {
		t.Errorf("help does not show --local-webhooks and its default:\n%s", r.stdout)
	}
}
