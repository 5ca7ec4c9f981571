package fakeserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/api/v1/$`).MatchString(s.URL()) {
		t.Errorf("URL() = %q", s.URL())
	}
	if s.APIKey() != DefaultAPIKey {
		t.Errorf("APIKey() = %q", s.APIKey())
	}
}

func TestStartAddressInUse(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(s.URL(), "http://"), "/api/v1/")
	if _, err := Start(WithAddr(addr)); err == nil {
		t.Fatal("Start on a taken address did not fail")
	}
	defer func() {
		if recover() == nil {
			t.Error("New on a taken address did not panic")
		}
	}()
	New(WithAddr(addr))
}

func TestClose(t *testing.T) {
	t.Parallel()
	s := New(WithRunDurations(30*time.Second, 30*time.Second), WithSyncLatency(30*time.Second))
	startAsync(t, s, janeDoe(""))

	// A sync run and a slow response in flight when Close begins.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		resp, err := client.Do(newRequest(t, s, "POST", "grids/grid_001/run", "ws_abc123", janeDoe("sync")))
		if err == nil {
			resp.Body.Close()
		}
	}()
	s.InjectFault(Fault{Path: "user/me", Kind: FaultSlow, Delay: 30 * time.Second})
	go func() {
		defer wg.Done()
		resp, err := client.Do(newRequest(t, s, "GET", "user/me", "", nil))
		if err == nil {
			resp.Body.Close()
		}
	}()
	eventually(t, "both requests to arrive", func() bool { return len(s.Requests()) == 3 })

	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	wg.Wait()
	s.Close() // again: a no-op
	if _, err := client.Do(newRequest(t, s, "GET", "user/me", "", nil)); err == nil {
		t.Error("a request after Close succeeded")
	}
}

// The server's idle keep-alive connections do not hold Close up.
func TestCloseWithIdleConnections(t *testing.T) {
	t.Parallel()
	s := New()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for range 3 {
		resp, err := c.Do(newRequest(t, s, "GET", "user/me", "", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A connection opened but never used.
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(s.URL(), "/api/v1/"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	other := httptest.NewServer(s.Handler())
	defer other.Close()
	req, _ := http.NewRequest("GET", other.URL+"/api/v1/workspaces/ws_abc123", nil)
	req.Header["api_key"] = []string{s.APIKey()}
	wantJSON(t, do(t, req).body, refWorkspace)
}

// On the wire, the fake accepts the headers spelled as the reference
// spells them and answers with the reference's header names.
func TestWireSpelling(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(s.URL(), "/api/v1/"), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/grids/grid_001 HTTP/1.1\r\nHost: x\r\napi_key: %s\r\nworkspace-id: ws_abc123\r\nConnection: close\r\n\r\n", s.APIKey())
	var head []string
	sc := bufio.NewScanner(conn)
	for sc.Scan() && sc.Text() != "" {
		head = append(head, sc.Text())
	}
	got := strings.Join(head, "\n")
	for _, want := range []string{"HTTP/1.1 200 OK", "X-RateLimit-Limit: 1000", "X-RateLimit-Remaining: 999", "X-RateLimit-Reset: ", "Content-Type: application/json"} {
		if !strings.Contains(got, want) {
			t.Errorf("response head lacks %q:\n%s", want, got)
		}
	}
}

func TestWithoutSeed(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithoutSeed())
	wantJSON(t, send(t, s, "GET", "workspaces", "", nil).body, `{"workspaces":[],"total":0}`)
	wantJSON(t, send(t, s, "GET", "user/me", "", nil).body, refUser)
	send(t, s, "GET", "grids/grid_001", "ws_abc123", nil).wantError(t, 404, CodeWorkspaceNotFound)
}

func TestAddWorkspaceAndGrid(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newServer(t, WithoutSeed(), WithClock(c.Now))

	ws, err := s.AddWorkspace(Workspace{Name: "Research"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ws.ID, "ws_") || ws.Role != "admin" || !ws.CreatedAt.Equal(c.Now()) ||
		ws.CreatedBy.ID != SeedUserID || ws.Plan.Name != "Enterprise" || ws.Members.Total != 1 || ws.Members.Admins != 1 ||
		ws.Credits != (Credits{Total: 100000, Remaining: 100000}) {
		t.Errorf("defaults = %+v", ws)
	}
	if _, err := s.AddWorkspace(Workspace{ID: ws.ID}); err == nil {
		t.Error("a duplicate workspace was added")
	}
	ws2, _ := s.AddWorkspace(Workspace{ID: "ws_two", Role: "member", Credits: Credits{Total: 500, Used: 100}, Members: Members{Total: 3, Admins: 1}})
	if ws2.Credits != (Credits{Total: 500, Used: 100, Remaining: 400}) || ws2.Plan.CreditsIncluded != 500 {
		t.Errorf("credits = %+v, plan %+v", ws2.Credits, ws2.Plan)
	}
	if err := s.SetCredits("ws_two", 7); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Workspace("ws_two"); got.Credits != (Credits{Total: 107, Used: 100, Remaining: 7}) {
		t.Errorf("after SetCredits: %+v", got.Credits)
	}
	if s.SetCredits("ws_nope", 1) == nil || s.SetCredits("ws_two", -1) == nil {
		t.Error("SetCredits accepted an unknown workspace or a negative balance")
	}

	g, err := s.AddGrid(ws.ID, Grid{Name: "Scoring", Columns: []Column{
		{Name: "Domain", IsInput: true, Required: true},
		{ID: "score", Name: "Score", Type: TypeNumber, IsOutput: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !strings.HasPrefix(g.ID, "grid_") || !uuid.MatchString(g.Columns[0].ID) || g.Columns[0].Type != TypeText ||
		g.Settings != (GridSettings{RowLimit: 5000, Visibility: "workspace"}) || !g.CreatedAt.Equal(c.Now()) || !g.UpdatedAt.Equal(g.CreatedAt) {
		t.Errorf("grid defaults = %+v", g)
	}
	got, ok := s.Grid(g.ID)
	if !ok || got.Columns[0].ID != g.Columns[0].ID {
		t.Errorf("Grid(%q) = %+v, %v", g.ID, got, ok)
	}
	got.Columns[0].Name = "changed" // a copy
	if again, _ := s.Grid(g.ID); again.Columns[0].Name != "Domain" {
		t.Error("Grid returned the stored columns, not a copy")
	}

	res := send(t, s, "GET", "workspaces/"+ws.ID+"/grids", ws.ID, nil)
	wantJSON(t, res.body, `{"grids":[{"id":"`+g.ID+`","name":"Scoring","description":"","row_count":0,"column_count":2,
		"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}],"total":1}`)
	res = send(t, s, "POST", "grids/"+g.ID+"/run", ws.ID, map[string]any{"inputs": map[string]any{g.Columns[0].ID: "acme.com"}})
	if res.status != 200 {
		t.Errorf("run on an added grid: %d %s", res.status, res.body)
	}

	for name, bad := range map[string]Grid{
		"duplicate grid":     {ID: g.ID},
		"unknown type":       {Columns: []Column{{Type: "currency"}}},
		"duplicate column":   {Columns: []Column{{ID: "a"}, {ID: "a"}}},
		"unknown workspace:": {},
	} {
		wsID := ws.ID
		if strings.HasPrefix(name, "unknown workspace") {
			wsID = "ws_nope"
		}
		if _, err := s.AddGrid(wsID, bad); err == nil {
			t.Errorf("%s: AddGrid did not fail", name)
		}
	}
	if s.SetGridRunDurations("grid_nope", 0, 0) == nil {
		t.Error("SetGridRunDurations of an unknown grid did not fail")
	}
	if _, ok := s.Workspace("ws_nope"); ok {
		t.Error("Workspace found an unknown ID")
	}
	if _, ok := s.Run("run_nope"); ok {
		t.Error("Run found an unknown ID")
	}
}

func TestSetUser(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	s.SetUser(User{ID: "usr_x", Name: "X", Email: "x@example.com", CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Plan: "starter"})
	wantJSON(t, send(t, s, "GET", "user/me", "", nil).body,
		`{"id":"usr_x","name":"X","email":"x@example.com","avatar_url":"","created_at":"2024-01-01T00:00:00Z","plan":"starter"}`)
	if s.User().ID != "usr_x" {
		t.Errorf("User() = %+v", s.User())
	}
}

func TestRequestsRecorded(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	send(t, s, "GET", "workspaces/ws_abc123/grids?search=lead", "ws_abc123", nil)
	send(t, s, "POST", "grids/grid_001/run", "ws_abc123", `{"inputs":{}}`)
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests recorded", len(reqs))
	}
	r := reqs[0]
	if r.Method != "GET" || r.Path != "/api/v1/workspaces/ws_abc123/grids" || r.RawQuery != "search=lead" || r.Time.IsZero() {
		t.Errorf("request = %+v", r)
	}
	if got := r.Header.Get("api_key"); got != "[redacted]" {
		t.Errorf("api_key recorded as %q", got)
	}
	if got := r.Header.Get("workspace-id"); got != "ws_abc123" {
		t.Errorf("workspace-id recorded as %q", got)
	}
	for _, r := range reqs {
		for _, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, s.APIKey()) {
					t.Errorf("the key leaked into the record: %v", r.Header)
				}
			}
		}
	}
	if string(reqs[1].Body) != `{"inputs":{}}` {
		t.Errorf("body recorded as %q", reqs[1].Body)
	}
	s.ClearHistory()
	if len(s.Requests()) != 0 || len(s.Deliveries()) != 0 {
		t.Error("ClearHistory kept something")
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	s := newServer(t, WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	send(t, s, "GET", "user/me", "", nil)
	send(t, s, "GET", "grids/nope", "ws_abc123", nil)
	s.InjectFault(Fault{Kind: FaultHTML})
	send(t, s, "GET", "user/me", "", nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"method=GET path=/api/v1/user/me status=200", "path=/api/v1/grids/nope status=404", "status=502"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want it to contain %q", i+1, lines[i], want)
		}
	}
	if !strings.Contains(lines[2], "fault=HTML") {
		t.Errorf("faulted request not marked: %q", lines[2])
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := newServer(t, WithLocalWebhooks(), WithRunDurations(time.Millisecond, time.Millisecond))
	recv := newReceiver(t)
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := janeDoe("sync")
			if i%2 == 1 {
				body["mode"] = "async"
				body["webhook_url"] = recv.URL
			}
			req := newRequest(t, s, "POST", "grids/grid_001/run", "ws_abc123", body)
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				errs <- fmt.Errorf("run: status %d", resp.StatusCode)
			}
			for _, path := range []string{"workspaces", "workspaces/ws_abc123", "grids/grid_001"} {
				resp, err := client.Do(newRequest(t, s, "GET", path, "ws_abc123", nil))
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
			}
			// Data and introspection calls race with the API too.
			s.Runs()
			s.Requests()
			s.Deliveries()
			s.SetRunCost(12)
			s.Workspace("ws_abc123")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, "every run to complete", func() bool {
		for _, r := range s.Runs() {
			if r.Status != StatusCompleted {
				return false
			}
		}
		return len(s.Deliveries()) == n/2
	})
	if ws, _ := s.Workspace("ws_abc123"); ws.Credits.Remaining != 65800-12*n {
		t.Errorf("credits = %+v, want %d runs charged", ws.Credits, n)
	}
	if len(s.Runs()) != n || len(s.Requests()) != 4*n {
		t.Errorf("%d runs, %d requests", len(s.Runs()), len(s.Requests()))
	}
}

func TestEnricherSeesServerContext(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	s := New(WithRunDurations(0, 0), WithEnricher(func(ctx context.Context, req EnrichRequest) (map[string]any, error) {
		close(started)
		<-ctx.Done() // an enricher that only ends with the server
		return nil, ctx.Err()
	}))
	startAsync(t, s, janeDoe(""))
	<-started
	s.Close()
}
