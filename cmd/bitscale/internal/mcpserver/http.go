package mcpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ServeHTTP serves s over streamable HTTP on ln until ctx ends, then shuts
// down, giving the calls under way a few seconds to finish.
//
// The server has no authentication of its own: whoever reaches it spends
// the API key's credits. It refuses requests from web pages (an Origin
// header not on this machine) and, on a loopback listener, requests for
// another host name, which is how a page would reach it through DNS
// rebinding.
func ServeHTTP(ctx context.Context, s *mcp.Server, ln net.Listener, logger *slog.Logger) error {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	hs := &http.Server{
		Handler:           guard(h, isLoopback(ln.Addr())),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		hs.Close() // streams still open: end them
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// guard refuses requests from web pages, and on loopback requests named
// for another host.
func guard(h http.Handler, loopback bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && !localOrigin(o) {
			http.Error(w, "requests from web pages are refused", http.StatusForbidden)
			return
		}
		if loopback && !localHost(r.Host) {
			http.Error(w, "unknown host "+r.Host, http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func localOrigin(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && localHost(u.Host)
}

// localHost reports whether hostport names this machine.
func localHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
