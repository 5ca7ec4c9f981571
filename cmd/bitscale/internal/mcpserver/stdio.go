package mcpserver

import (
	"context"
	"io"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ServeStdio serves s on r and w, one JSON-RPC message a line, until the
// client closes r or ctx ends; either is a normal end. Nothing else may
// write to w: it carries the protocol alone.
func ServeStdio(ctx context.Context, s *mcp.Server, r io.Reader, w io.Writer) error {
	in := &eofReader{r: r}
	err := s.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(in), Writer: nopWriteCloser{w}})
	if ctx.Err() != nil || in.eof.Load() {
		return nil
	}
	return err
}

// eofReader notes that its reader ended, which is how a client that
// started the server says it is done.
type eofReader struct {
	r   io.Reader
	eof atomic.Bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof.Store(true)
	}
	return n, err
}

// nopWriteCloser leaves closing w to its owner.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
