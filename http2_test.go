package bitscale_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bitscale/bitscale-go"
)

func writeFrame(w io.Writer, typ, flags byte, stream uint32, payload []byte) {
	var h [9]byte
	h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	h[3], h[4] = typ, flags
	binary.BigEndian.PutUint32(h[5:], stream)
	w.Write(append(h[:], payload...))
}

// Over HTTP/2, net/http resends a request it can rebuild when the server
// resets its stream with PROTOCOL_ERROR, even after the server read the
// whole body and ran it. A run must not be rebuilt so.
func TestRunIsNotResentByHTTP2(t *testing.T) {
	t.Parallel()
	var completed atomic.Int32 // requests the server received whole ("ran")
	srv := httptest.NewUnstartedServer(nil)
	srv.TLS = &tls.Config{NextProtos: []string{"h2"}}
	srv.StartTLS() // just to get a cert; we serve frames ourselves on another listener
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	tl := tls.NewListener(ln, &tls.Config{Certificates: srv.TLS.Certificates, NextProtos: []string{"h2"}})
	serve := func(conn net.Conn) {
		defer conn.Close()
		pre := make([]byte, 24)
		if _, err := io.ReadFull(conn, pre); err != nil {
			return
		}
		writeFrame(conn, 4, 0, 0, nil) // SETTINGS
		hdr := make([]byte, 9)
		for {
			if _, err := io.ReadFull(conn, hdr); err != nil {
				return
			}
			n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
			typ, flags, sid := hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:])&0x7fffffff
			payload := make([]byte, n)
			if _, err := io.ReadFull(conn, payload); err != nil {
				return
			}
			switch {
			case typ == 4 && flags&1 == 0:
				writeFrame(conn, 4, 1, 0, nil) // SETTINGS ACK
			case (typ == 0 || typ == 1) && flags&1 != 0: // END_STREAM: the whole request is in
				if completed.Add(1) == 1 {
					writeFrame(conn, 3, 0, sid, []byte{0, 0, 0, 1}) // RST_STREAM PROTOCOL_ERROR
					continue
				}
				writeFrame(conn, 1, 4, sid, []byte{0x88}) // HEADERS :status 200
				writeFrame(conn, 0, 1, sid, []byte(`{"mode":"sync","status":"completed","outputs":{"x":1}}`))
			}
		}
	}
	go func() {
		for {
			conn, err := tl.Accept()
			if err != nil {
				return
			}
			go serve(conn)
		}
	}()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = true
	c, err := bitscale.NewClient(testKey, bitscale.WithBaseURL("https://"+ln.Addr().String()+"/api/v1/"),
		bitscale.WithWorkspaceID(testWorkspace), bitscale.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	run, resp, err := c.Grids.Run(ctx, "grid_001", &bitscale.RunRequest{Inputs: map[string]any{"c": "v"}})
	proto := ""
	if resp != nil {
		proto = resp.Proto
	}
	t.Logf("proto=%s run=%v err=%v unknown=%v; run requests received whole by the server: %d",
		proto, run != nil, err, errors.Is(err, bitscale.ErrOutcomeUnknown), completed.Load())
	if completed.Load() > 1 {
		t.Errorf("grid run sent %d times by net/http's HTTP/2 retry", completed.Load())
	}
}
