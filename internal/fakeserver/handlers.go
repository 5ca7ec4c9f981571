package fakeserver

import (
	"net/http"
	"strings"
)

// route is one operation of the API. In pattern, "{}" matches one
// non-empty path segment, which the handler gets in call.args.
type route struct {
	method  string
	pattern []string
	serve   func(s *Server, w http.ResponseWriter, c *call)
}

var routes = []route{
	{http.MethodGet, []string{"user", "me"}, (*Server).getUser},
	{http.MethodGet, []string{"workspaces"}, (*Server).listWorkspaces},
	{http.MethodGet, []string{"workspaces", "{}"}, (*Server).getWorkspace},
	{http.MethodGet, []string{"workspaces", "{}", "grids"}, (*Server).listGrids},
	{http.MethodGet, []string{"grids", "{}"}, (*Server).getGrid},
	{http.MethodPost, []string{"grids", "{}", "run"}, (*Server).runGrid},
	{http.MethodGet, []string{"grids", "{}", "runs", "{}"}, (*Server).getRun},
}

// match reports whether segs fit the pattern, and the segments that
// filled its "{}".
func (rt route) match(segs []string) ([]string, bool) {
	if len(segs) != len(rt.pattern) {
		return nil, false
	}
	var args []string
	for i, p := range rt.pattern {
		switch {
		case p == "{}" && segs[i] != "":
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

// route finds the operation for the request's path and method. The path
// is matched escaped, segment by segment, never cleaned: the fake must
// not let "..%2F" in an ID reach another route.
func (s *Server) route(w http.ResponseWriter, c *call) {
	segs, ok := splitPath(c.r.URL.EscapedPath())
	if !ok {
		writeError(w, errorf(CodeNotFound, "no route for %s", c.r.URL.EscapedPath()))
		return
	}
	var allow []string
	for _, rt := range routes {
		args, ok := rt.match(segs)
		if !ok {
			continue
		}
		if rt.method != c.r.Method {
			allow = append(allow, rt.method)
			continue
		}
		c.args = args
		rt.serve(s, w, c)
		return
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, errorf(CodeMethodNotAllowed, "method %s not allowed; use %s", c.r.Method, strings.Join(allow, ", ")))
		return
	}
	writeError(w, errorf(CodeNotFound, "no route for %s", c.r.URL.EscapedPath()))
}

func (s *Server) getUser(w http.ResponseWriter, c *call) {
	writeJSON(w, http.StatusOK, toUserJSON(s.User()))
}

func (s *Server) listWorkspaces(w http.ResponseWriter, c *call) {
	s.mu.Lock()
	list := workspaceListJSON{Workspaces: []workspaceItemJSON{}}
	for _, id := range s.workspaceOrder {
		list.Workspaces = append(list.Workspaces, toWorkspaceItemJSON(s.workspaces[id].Workspace))
	}
	s.mu.Unlock()
	list.Total = len(list.Workspaces)
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) getWorkspace(w http.ResponseWriter, c *call) {
	ws, ok := s.Workspace(c.args[0])
	if !ok {
		writeError(w, workspaceNotFound(c.args[0]))
		return
	}
	writeJSON(w, http.StatusOK, toWorkspaceJSON(ws))
}

// listGrids lists the grids of the path's workspace. The workspace-id
// header is required and must name a workspace too, but the path decides
// which grids are listed.
func (s *Server) listGrids(w http.ResponseWriter, c *call) {
	if _, err := s.headerWorkspace(c.r); err != nil {
		writeError(w, err)
		return
	}
	wsID := c.args[0]
	search := strings.ToLower(c.r.URL.Query().Get("search"))

	s.mu.Lock()
	_, ok := s.workspaces[wsID]
	list := gridListJSON{Grids: []gridItemJSON{}}
	for _, id := range s.gridOrder {
		g := s.grids[id]
		if g.workspaceID == wsID && strings.Contains(strings.ToLower(g.Name), search) {
			list.Grids = append(list.Grids, toGridItemJSON(g.Grid))
		}
	}
	s.mu.Unlock()

	if !ok {
		writeError(w, workspaceNotFound(wsID))
		return
	}
	list.Total = len(list.Grids)
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) getGrid(w http.ResponseWriter, c *call) {
	g, err := s.scopedGrid(c.r, c.args[0])
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toGridJSON(g.Grid))
}

// headerWorkspace returns the ID in the workspace-id header. It fails with
// MISSING_REQUIRED_FIELD when the header is missing and
// WORKSPACE_NOT_FOUND when it names no workspace.
func (s *Server) headerWorkspace(r *http.Request) (string, *apiError) {
	id := r.Header.Get("workspace-id")
	if id == "" {
		return "", errorf(CodeMissingRequiredField, "missing required header: workspace-id")
	}
	s.mu.Lock()
	_, ok := s.workspaces[id]
	s.mu.Unlock()
	if !ok {
		return "", workspaceNotFound(id)
	}
	return id, nil
}

// scopedGrid returns a copy of the grid with the given ID, if it belongs
// to the workspace of the workspace-id header. A grid of another workspace
// is GRID_NOT_FOUND, as if it did not exist.
func (s *Server) scopedGrid(r *http.Request, gridID string) (grid, *apiError) {
	wsID, err := s.headerWorkspace(r)
	if err != nil {
		return grid{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grids[gridID]
	if !ok || g.workspaceID != wsID {
		return grid{}, errorf(CodeGridNotFound, "no grid found for ID %q in workspace %q", gridID, wsID)
	}
	cp := *g
	cp.Grid = cloneGrid(g.Grid)
	return cp, nil
}

func workspaceNotFound(id string) *apiError {
	return errorf(CodeWorkspaceNotFound, "no workspace found for ID %q", id)
}
