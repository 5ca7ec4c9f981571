package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go/internal/fakeserver"
)

// serve runs the command with args on a random port until the test ends,
// and returns its base URL and the "webhooks to:" line of its banner.
func serve(t *testing.T, args ...string) (base, webhooks string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() && webhooks == "" {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "base URL:"); ok {
			base = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "webhooks to:"); ok {
			webhooks = strings.TrimSpace(v)
		}
	}
	go io.Copy(io.Discard, pr) // the rest of the banner
	if base == "" || webhooks == "" {
		t.Fatalf("no base URL or webhook line in the banner")
	}
	return base, webhooks
}

// startRun starts an async run that reports to hook, and returns the status.
func startRun(t *testing.T, base, hook string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"mode":        "async",
		"inputs":      map[string]any{fakeserver.ColumnFullName: "Jane Doe"},
		"webhook_url": hook,
	})
	req, err := http.NewRequest(http.MethodPost, base+"grids/"+fakeserver.SeedGridID+"/run", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header["api_key"] = []string{fakeserver.DefaultAPIKey}
	req.Header["workspace-id"] = []string{fakeserver.SeedWorkspaceID}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestLocalWebhooksByDefault(t *testing.T) {
	base, webhooks := serve(t, "-queued", "1h")
	if webhooks != "local and http:// URLs too, unlike BitScale (-local-webhooks)" {
		t.Errorf("banner says webhooks go to %q", webhooks)
	}
	if code := startRun(t, base, "http://127.0.0.1:1/hook"); code != http.StatusCreated {
		t.Errorf("a local webhook URL was answered %d, want 201", code)
	}
}

func TestLocalWebhooksOff(t *testing.T) {
	base, webhooks := serve(t, "-local-webhooks=false", "-queued", "1h")
	if webhooks != "public https:// URLs only, as BitScale (-local-webhooks=false)" {
		t.Errorf("banner says webhooks go to %q", webhooks)
	}
	if code := startRun(t, base, "http://127.0.0.1:1/hook"); code != http.StatusUnprocessableEntity {
		t.Errorf("a local webhook URL was answered %d, want 422 as BitScale", code)
	}
	if code := startRun(t, base, "https://hooks.example.com/hook"); code != http.StatusCreated {
		t.Errorf("a public webhook URL was answered %d, want 201", code)
	}
}

func TestHelp(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &out, io.Discard)
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("err = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "-local-webhooks") || !strings.Contains(out.String(), "(default true)") {
		t.Errorf("usage does not show -local-webhooks and its default:\n%s", out.String())
	}
}
