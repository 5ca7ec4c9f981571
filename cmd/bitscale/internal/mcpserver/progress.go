package mcpserver

import (
	"context"
	"fmt"

	"github.com/bitscale/bitscale-go"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// progress tells a client each change of a run's status while a tool
// waits for it, as progress notifications, when the client asked for them
// with a progress token.
type progress struct {
	session *mcp.ServerSession
	token   any // nil: the client asked for none
	n       float64
}

func newProgress(req *mcp.CallToolRequest) *progress {
	return &progress{session: req.Session, token: req.Params.GetProgressToken()}
}

// update reports run's status. A notification that cannot be sent is
// dropped: the wait goes on, and its result tells the run's end.
func (p *progress) update(ctx context.Context, run *bitscale.Run) {
	if p.token == nil || p.session == nil {
		return
	}
	p.n++ // progress must grow with each notification
	_ = p.session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
		ProgressToken: p.token,
		Progress:      p.n,
		Message:       fmt.Sprintf("run %s is %s", run.ID, run.Status),
	})
}
