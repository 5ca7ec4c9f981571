package main

import (
	"strings"
	"testing"

	"github.com/bitscale/bitscale-go"
)

func TestReadCommandsTables(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"whoami.golden", []string{"whoami"}},
		{"workspaces-list.golden", []string{"workspaces", "list"}},
		{"workspaces-get.golden", []string{"workspaces", "get"}},
		{"workspaces-get-other.golden", []string{"workspaces", "get", "ws_def456"}},
		{"grids-list.golden", []string{"grids", "list"}},
		{"grids-list-search.golden", []string{"grids", "list", "--search", "nothing like it"}},
		{"grids-get.golden", []string{"grids", "get", "grid_001"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := cli(t, invocation{env: env(srv)}, tc.args...)
			wantCode(t, r, exitOK)
			golden(t, tc.golden, r.stdout)
		})
	}
}

func TestReadCommandsJSON(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	inv := invocation{env: env(srv)}

	var user bitscale.User
	decode(t, cli(t, inv, "whoami", "--json").stdout, &user)
	if user.ID != "usr_abc123" {
		t.Errorf("whoami --json: id %q, want usr_abc123", user.ID)
	}

	var list bitscale.WorkspaceList
	decode(t, cli(t, inv, "workspaces", "list", "--json").stdout, &list)
	if list.Total != 2 || len(list.Workspaces) != 2 || list.Workspaces[1].ID != "ws_def456" {
		t.Errorf("workspaces list --json: %+v", list)
	}

	var ws bitscale.WorkspaceDetails
	decode(t, cli(t, inv, "workspaces", "get", "--json").stdout, &ws)
	if ws.ID != "ws_abc123" || ws.Credits.Remaining == 0 {
		t.Errorf("workspaces get --json: %+v", ws)
	}

	var grids bitscale.GridList
	decode(t, cli(t, inv, "grids", "list", "--json", "--search", "lead").stdout, &grids)
	if grids.Total != 1 || grids.Grids[0].ID != "grid_001" {
		t.Errorf("grids list --json --search lead: %+v", grids)
	}

	var grid bitscale.Grid
	decode(t, cli(t, inv, "--json", "grids", "get", "grid_001").stdout, &grid)
	if col, ok := grid.Column("Full Name"); !ok || !col.IsInput || !col.Required {
		t.Errorf("grids get --json: no required input Full Name in %+v", grid.Columns)
	}
}

func TestWorkspaceFlagOverridesEnvironment(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	r := cli(t, invocation{env: env(srv)}, "workspaces", "get", "--workspace", "ws_def456", "--json")
	wantCode(t, r, exitOK)
	var ws bitscale.WorkspaceDetails
	decode(t, r.stdout, &ws)
	if ws.ID != "ws_def456" {
		t.Errorf("--workspace ws_def456 showed %s", ws.ID)
	}
}

func TestNoKey(t *testing.T) {
	t.Parallel()
	r := cli(t, invocation{}, "whoami")
	wantCode(t, r, exitUsage)
	for _, want := range []string{"BITSCALE_API_KEY", "--fake"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not mention %s: %s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout: %q, want nothing", r.stdout)
	}
}

// TestFakeFlag is not parallel: with -update, it and TestReadCommandsTables
// would write grids-get.golden at once.
func TestFakeFlag(t *testing.T) {
	r := cli(t, invocation{}, "--fake", "grids", "get", "grid_001")
	wantCode(t, r, exitOK)
	golden(t, "grids-get.golden", r.stdout)
}

func TestAPIErrorIsOneLineWithCodeAndHint(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	r := cli(t, invocation{env: env(srv)}, "grids", "get", "grid_nope")
	wantCode(t, r, exitError)
	if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "GRID_NOT_FOUND") ||
		!strings.Contains(r.stderr, "bitscale grids list") {
		t.Errorf("stderr is not one line with the code and what to do: %q", r.stderr)
	}

	r = cli(t, invocation{env: env(srv)}, "grids", "get", "grid_nope", "--json")
	wantCode(t, r, exitError)
	var e errorJSON
	decode(t, r.stderr, &e)
	if e.Error.Code != "GRID_NOT_FOUND" || e.Error.ExitCode != exitError {
		t.Errorf("--json error: %+v", e)
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	e := env(srv)
	e["BITSCALE_API_KEY"] = "bsk_wrong_" + testKey[len("bsk_test_"):]
	r := cli(t, invocation{env: e}, "whoami")
	wantCode(t, r, exitError)
	if !strings.Contains(r.stderr, "INVALID_API_KEY") || !strings.Contains(r.stderr, "check BITSCALE_API_KEY") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if strings.Contains(r.stderr, e["BITSCALE_API_KEY"]) {
		t.Errorf("the wrong key is in the error: %q", r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	srv := startFake(t)
	for _, args := range [][]string{
		{"nosuchcommand"},
		{"grids", "get"},
		{"grids", "list", "--nosuchflag"},
		{"runs", "get", "grid_001"},
		{"enrich", "grid_001", "in.csv"},
		{"enrich", "grid_001", "in.csv", "-o", "-"},
		{"enrich", "grid_001", "in.csv", "-o", "in.csv"},
	} {
		r := cli(t, invocation{env: env(srv)}, args...)
		if r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, r.code, exitUsage)
		}
		if r.stderr == "" {
			t.Errorf("%q: nothing on stderr", args)
		}
	}
	if n := len(srv.Runs()); n != 0 {
		t.Errorf("the fake ran %d times", n)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := cli(t, invocation{}, "completion", shell)
		wantCode(t, r, exitOK)
		if !strings.Contains(r.stdout, "bitscale") || len(r.stdout) < 500 {
			t.Errorf("completion %s printed %d bytes", shell, len(r.stdout))
		}
	}
}
