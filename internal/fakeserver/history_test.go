package fakeserver

import "testing"

func TestRequestsRecordTheStatusAnswered(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	s.InjectFault(Fault{Path: "workspaces", Status: 503})
	for _, path := range []string{"user/me", "grids/nope", "workspaces"} {
		resp, err := client.Do(newRequest(t, s, "GET", path, "ws_abc123", nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var got []int
	for _, r := range s.Requests() {
		got = append(got, r.Status)
	}
	if want := []int{200, 404, 503}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("statuses %v, want %v", got, want)
	}
}
